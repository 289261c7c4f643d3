//! Why a case did not pass.

/// Why a case did not pass.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// The target misbehaved.
    Fail {
        expected: String,
        observed: String,
        reason: String,
    },
    /// The harness or its infrastructure failed; says nothing about the target.
    Error(String),
}

impl Verdict {
    pub(crate) fn fail(
        expected: impl Into<String>,
        observed: impl Into<String>,
        reason: impl Into<String>,
    ) -> Verdict {
        Verdict::Fail {
            expected: expected.into(),
            observed: observed.into(),
            reason: reason.into(),
        }
    }

    /// The same verdict with `context: ` in front of its reason (or error).
    pub(crate) fn context(self, context: &str) -> Verdict {
        match self {
            Verdict::Fail {
                expected,
                observed,
                reason,
            } => Verdict::Fail {
                expected,
                observed,
                reason: format!("{context}: {reason}"),
            },
            Verdict::Error(e) => Verdict::Error(format!("{context}: {e}")),
        }
    }
}

/// What a step came to: `Ok(Some(note))` = passed as an accepted alternative.
pub(crate) type StepResult = Result<Option<String>, Verdict>;
