//! Maelstrom's availability checker: the fraction of client invocations that completed ok,
//! against `--availability` (`total` = 1, or a fraction; none = always valid).

use super::op_summary::OpSummary;
use super::{CheckResult, Validity};
use crate::history::History;

/// `--availability`: the required fraction of ok ops (total is 1.0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Availability {
    Total,
    Fraction(f64),
}

impl std::str::FromStr for Availability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "total" {
            return Ok(Availability::Total);
        }
        match s.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(Availability::Fraction(p)),
            _ => Err(format!(
                "--availability takes `total` or a number between 0 and 1, not {s:?}"
            )),
        }
    }
}

impl Availability {
    fn required(self) -> f64 {
        match self {
            Availability::Total => 1.0,
            Availability::Fraction(p) => p,
        }
    }
}

pub fn check_availability(history: &History, required: Option<Availability>) -> CheckResult {
    availability_of(&OpSummary::of(history), history, required)
}

/// [`check_availability`] from a summary already made of `history`.
pub fn availability_of(
    summary: &OpSummary<'_>,
    history: &History,
    required: Option<Availability>,
) -> CheckResult {
    let (ok, all) = (summary.total.ok_count, summary.total.count);
    let fraction = if all == 0 {
        1.0
    } else {
        ok as f64 / all as f64
    };
    let valid = required.is_none_or(|r| fraction >= r.required());
    let mut result = CheckResult::new(Validity::from_bool(valid)).with("ok_fraction", fraction);
    if !valid {
        result.anomaly(
            "unavailable",
            format!(
                "{} of {all} ops did not succeed (ok fraction {fraction:.4}), below the required {}",
                all - ok,
                required.map_or(0.0, Availability::required)
            ),
            // Only an invalid run pairs the ops again, for the first few that did not succeed.
            history
                .pairs()
                .iter()
                .filter(|p| p.outcome() != crate::history::OpType::Ok)
                .take(16)
                .map(|p| p.invoke.index)
                .collect(),
        );
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::{history, op};
    use crate::history::OpType;
    use serde_json::Value;

    fn h() -> History {
        history(vec![
            op(0, OpType::Invoke, "generate", Value::Null, 0),
            op(0, OpType::Ok, "generate", Value::from(1), 1),
            op(1, OpType::Invoke, "generate", Value::Null, 0),
            op(1, OpType::Info, "generate", Value::Null, 1),
        ])
    }

    #[test]
    fn total_requires_every_op() {
        assert_eq!(
            check_availability(&h(), Some(Availability::Total)).valid,
            Validity::Invalid
        );
        assert_eq!(check_availability(&h(), None).valid, Validity::Valid);
        assert_eq!(
            check_availability(&h(), Some(Availability::Fraction(0.5))).valid,
            Validity::Valid
        );
        assert_eq!(check_availability(&h(), None).figures["ok_fraction"], 0.5);
    }

    #[test]
    fn parses_the_flag() {
        assert_eq!("total".parse(), Ok(Availability::Total));
        assert_eq!("0.9".parse(), Ok(Availability::Fraction(0.9)));
        assert!("2".parse::<Availability>().is_err());
    }
}
