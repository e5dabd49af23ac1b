//! `availability.csv`: with `client_partitions`, what became of the
//! operations each side of a partition issued while it lasted (the CAP
//! experiment's availability half).

use super::point::PointOutcome;
use super::rows::key_cols;
use crate::experiment::load::Point;
use crate::results::{Row, Table};

/// The availability table: one row per side of the partitions of a point.
pub fn availability_table() -> Table {
    Table::new(
        "availability.csv",
        &[
            "protocol",
            "side",
            "clients",
            "issued",
            "ok",
            "after_heal",
            "errors",
            "timeouts",
            "availability",
        ],
    )
}

/// The rows of one point: one per side label (`0+1`, `2+3+4`, ...). A point
/// whose partitions issued nothing has no rows.
pub fn availability_rows(point: &Point, repetition: u32, out: &PointOutcome) -> Vec<Row> {
    out.driver
        .partition_sides
        .iter()
        .map(|(side, c)| {
            let mut row = key_cols(point, repetition);
            for (k, v) in [
                ("protocol", point.experiment.protocol.to_string()),
                ("side", side.clone()),
                ("clients", c.clients.to_string()),
                ("issued", c.issued.to_string()),
                ("ok", c.ok.to_string()),
                ("after_heal", c.after_heal.to_string()),
                ("errors", c.errors.to_string()),
                ("timeouts", c.timeouts.to_string()),
                (
                    "availability",
                    c.availability()
                        .map(|a| format!("{a:.4}"))
                        .unwrap_or_default(),
                ),
            ] {
                row.push((k.to_string(), v));
            }
            row
        })
        .collect()
}
