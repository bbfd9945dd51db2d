//! What goes wrong when a component is configured or built: [`Problem`]s, gathered into a
//! [`BuildError`], with [`Problems`] to collect every one of a component before giving up.

use std::fmt;

/// One step of a path inside a component's `config:`: a key or a list index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// A mapping key, as written in the document (camelCase).
    Key(String),
    /// A list index.
    Index(usize),
}

/// `tls.caFile` as steps.
pub fn path_of(dotted: &str) -> Vec<PathStep> {
    dotted.split('.').filter(|s| !s.is_empty()).map(|s| PathStep::Key(s.to_owned())).collect()
}

/// What kind of problem it is, when the document tool can do more than print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// A value is wrong (the message says why).
    Invalid,
    /// A key the component does not have.
    UnknownKey(Box<UnknownKey>),
    /// A consequence of a problem already reported elsewhere (another component's); not
    /// reported again.
    Consequence,
}

/// A key written in a config that the component does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownKey {
    /// The key written.
    pub key: String,
    /// The keys the component accepts.
    pub expected: Vec<String>,
}

/// One problem with a component's config or build, placed at a config key when it has one.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Where in the component's `config:` (empty: the component as a whole).
    pub path: Vec<PathStep>,
    /// A name written in the config that the problem is about (e.g. a storage name); the
    /// message is placed at that value when `path` is empty.
    pub reference: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The value it is about is a secret: never shown, even in the source line.
    pub secret: bool,
}

impl Problem {
    /// A problem with the component as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        Problem {
            path: Vec::new(),
            reference: None,
            message: message.into(),
            help: None,
            kind: ProblemKind::Invalid,
            secret: false,
        }
    }

    /// A problem with the config key `field`, dotted for nested keys (`tls.caFile`).
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Problem { path: path_of(field), ..Problem::new(message) }
    }

    /// A problem at `path` in the config (keys that may hold dots, list indexes).
    pub fn at(path: Vec<PathStep>, message: impl Into<String>) -> Self {
        Problem { path, ..Problem::new(message) }
    }

    /// Adds a `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Says which name written in the config the problem is about.
    pub fn reference(mut self, name: impl Into<String>) -> Self {
        self.reference = Some(name.into());
        self
    }

    /// Marks the value it is about as a secret (masked wherever the document is shown).
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Marks the problem, about the URL `url` written in the document, as a secret when the
    /// URL carries credentials a shown source line would not mask by itself: written
    /// without a scheme (`user:pass@host`). With a scheme, only the credentials are masked.
    pub fn about_url(self, url: &str) -> Self {
        let hidden = matches!(crate::secret::mask_written_url(url), std::borrow::Cow::Owned(_));
        if hidden && !url.contains("://") { self.secret() } else { self }
    }

    /// Marks it as the consequence of a problem reported elsewhere.
    pub fn consequence(mut self) -> Self {
        self.kind = ProblemKind::Consequence;
        self
    }

    /// Whether it is only the consequence of a problem reported elsewhere.
    pub fn is_consequence(&self) -> bool {
        self.kind == ProblemKind::Consequence
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a component could not be built: every problem found, never none.
#[derive(Clone, Debug)]
pub struct BuildError {
    problems: Vec<Problem>,
}

impl BuildError {
    /// An error with one problem, `message`, about the component as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        Problem::new(message).into()
    }

    /// Adds a `help:` line to the last problem.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        if let Some(last) = self.problems.last_mut() {
            last.help = Some(help.into());
        }
        self
    }

    /// Every problem, in the order found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Takes the problems out.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }
}

impl From<Problem> for BuildError {
    fn from(problem: Problem) -> Self {
        BuildError { problems: vec![problem] }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<&str> = self.problems.iter().map(|p| p.message.as_str()).collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for BuildError {}

/// Collects every problem of one component's config, so that a config with three mistakes
/// reports three:
///
/// ```
/// # use seam_core::{BuildError, Problem, Problems};
/// fn check(max: u64, key_by: &str) -> Result<(u64, String), BuildError> {
///     let mut problems = Problems::new();
///     problems.ensure(max > 0, || Problem::field("max", "max must be at least 1"));
///     let key_by = problems.check(match key_by {
///         "ip" => Ok(key_by.to_owned()),
///         other => Err(Problem::field("keyBy", format!("`{other}` is not `ip`"))),
///     });
///     let key_by = problems.finish(key_by)?;
///     Ok((max, key_by))
/// }
/// assert_eq!(check(0, "mac").unwrap_err().problems().len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// No problem yet.
    pub fn new() -> Self {
        Problems::default()
    }

    /// Records `problem`.
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    /// Records the problem unless `ok`.
    pub fn ensure(&mut self, ok: bool, problem: impl FnOnce() -> Problem) {
        if !ok {
            self.0.push(problem());
        }
    }

    /// The value, or `None` with its problem recorded.
    pub fn check<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        result.map_err(|p| self.0.push(p)).ok()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `value` when no problem was recorded, else every problem.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, BuildError> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(self.into()),
        }
    }

    /// `Ok` when no problem was recorded, else every problem.
    pub fn into_result(self) -> Result<(), BuildError> {
        self.finish(Some(()))
    }
}

impl From<Problems> for BuildError {
    fn from(problems: Problems) -> Self {
        if problems.0.is_empty() {
            // `finish(None)` without a recorded problem: say so rather than lose the failure.
            return BuildError::new("the config is invalid (the component gave no details)");
        }
        BuildError { problems: problems.0 }
    }
}
