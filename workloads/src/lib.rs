//! Workload specification and load driver (not built yet: see issue 3).
