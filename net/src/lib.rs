//! QUIC transport for quorumlab nodes and drivers (not built yet: see issue 3).
