//! Readiness rules shared by `/readyz`, `/metrics`, the panel's system page and `smsgate status`: pure,
//! so they are tested without a database.
use serde::{Deserialize, Serialize};

/// What `/readyz` reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    /// `ok`, or why the database cannot take writes.
    pub database: String,
    pub modems_ready: usize,
    pub modems_total: usize,
    /// Why the gateway is not ready (empty when it is).
    pub problems: Vec<String>,
}

/// Combines the probes into a verdict (pure, so the rules are tested without a database).
pub fn assess(database: Result<(), String>, modems_ready: usize, modems_total: usize) -> Readiness {
    let mut problems = Vec::new();
    let database = match database {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            problems.push(format!("database: {e}"));
            e
        }
    };
    if modems_ready == 0 {
        problems.push(if modems_total == 0 {
            "no modem configured or discovered".to_owned()
        } else {
            format!("none of {modems_total} modems is ready")
        });
    }
    Readiness {
        ready: problems.is_empty(),
        database,
        modems_ready,
        modems_total,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let cases = [
            (Ok(()), 2, 4, true, 0),
            (Ok(()), 0, 4, false, 1),
            (Ok(()), 0, 0, false, 1),
            (Err("disk I/O error".to_owned()), 3, 3, false, 1),
            (Err("closed".to_owned()), 0, 1, false, 2),
        ];
        for (db, up, total, ready, problems) in cases {
            let v = assess(db.clone(), up, total);
            assert_eq!(
                (v.ready, v.problems.len()),
                (ready, problems),
                "{db:?} {up}/{total}: {v:?}"
            );
        }
        assert_eq!(assess(Ok(()), 0, 4).problems, ["none of 4 modems is ready"]);
    }
}
