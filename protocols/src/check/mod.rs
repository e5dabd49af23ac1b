//! Consistency checkers. Work in progress.
