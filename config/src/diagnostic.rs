//! Problems found in a document, printed rustc-style with `file:line:column`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// One loaded source file, kept to print the offending line under a diagnostic.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it (or as found in a config folder).
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
}

impl SourceFile {
    /// The text of 1-based line `line`, without its line break.
    pub fn line(&self, line: u32) -> Option<&str> {
        self.text.lines().nth((line as usize).checked_sub(1)?)
    }
}

/// A position in a source file: 1-based line and column, and the width to underline.
#[derive(Clone, Debug)]
pub struct Loc {
    /// The file.
    pub file: Arc<SourceFile>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// How many characters to underline (at least 1).
    pub width: u32,
}

impl PartialEq for Loc {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.file, &other.file) && self.line == other.line && self.column == other.column
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.path.display(), self.line, self.column)
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The document cannot be used.
    Error,
    /// The document works, but probably not as intended.
    Warning,
}

/// One problem in a document.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, when it is known.
    pub loc: Option<Loc>,
    /// The path in the document (`storages.Cache.config.prefix`), when it is known.
    pub path: Option<String>,
    /// A hint: "did you mean ...", or how to fix it.
    pub help: Option<String>,
    /// A second place that matters (e.g. the first definition of a duplicate name).
    pub related: Option<Box<(String, Loc)>>,
    /// The value at `loc` is a secret: the source line is shown with it masked.
    pub secret: bool,
}

impl Diagnostic {
    /// An error with `message`.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            loc: None,
            path: None,
            help: None,
            related: None,
            secret: false,
        }
    }

    /// A warning with `message`.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }

    /// Sets where the problem is.
    pub fn at(mut self, loc: &Loc) -> Self {
        self.loc = Some(loc.clone());
        self
    }

    /// Sets the document path of the problem.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Adds a `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a `help:` line when `help` is some.
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Points at a second place, with a note saying what it is.
    pub fn related(mut self, note: impl Into<String>, loc: &Loc) -> Self {
        self.related = Some(Box::new((note.into(), loc.clone())));
        self
    }

    /// Marks the value at its place as a secret, masked when the source line is shown.
    pub fn secret(mut self, secret: bool) -> Self {
        self.secret = secret;
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

fn write_snippet(f: &mut fmt::Formatter<'_>, loc: &Loc, gutter: usize, secret: bool) -> fmt::Result {
    let pad = " ".repeat(gutter);
    writeln!(f, "{pad}--> {loc}")?;
    if let Some(line) = loc.file.line(loc.line) {
        let start = loc.column.saturating_sub(1) as usize;
        let mut width = loc.width.max(1) as usize;
        let line: String = if secret {
            // From the value to the end of the line: a secret written as a list or a mapping
            // spans more than the token the place points at.
            line.chars().enumerate().map(|(i, c)| if i >= start && !c.is_whitespace() { '*' } else { c }).collect()
        } else {
            // A URL's user and password are masked in any line shown; the value pointed at is
            // masked on its own, so the carets still span it.
            let mask = |text: &str| seam_core::secret::mask_url_credentials(text).into_owned();
            let split = |at: usize| line.char_indices().nth(at).map_or(line.len(), |(i, _)| i);
            let (value_start, value_end) = (split(start), split(start + width));
            let value = mask(&line[value_start..value_end]);
            width = value.chars().count().max(1);
            format!("{}{value}{}", mask(&line[..value_start]), mask(&line[value_end..]))
        };
        let caret_pad: String = line.chars().take(start).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        writeln!(f, "{pad} |")?;
        writeln!(f, "{:>gutter$} | {line}", loc.line)?;
        writeln!(f, "{pad} | {caret_pad}{}", "^".repeat(width))?;
    }
    Ok(())
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{label}: {}", self.message)?;
        let gutter = [self.loc.as_ref(), self.related.as_deref().map(|r| &r.1)]
            .into_iter()
            .flatten()
            .map(|l| l.line.to_string().len())
            .max()
            .unwrap_or(1);
        let pad = " ".repeat(gutter);
        if let Some(loc) = &self.loc {
            write_snippet(f, loc, gutter, self.secret)?;
        }
        if let Some(path) = &self.path {
            writeln!(f, "{pad} = at: {path}")?;
        }
        if let Some((note, loc)) = self.related.as_deref() {
            writeln!(f, "{pad} = note: {note}")?;
            write_snippet(f, loc, gutter, false)?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, line and column (errors without a place last), errors first
/// within the same place.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            d.loc.as_ref().map(|l| (0, l.file.path.clone(), l.line, l.column)).unwrap_or((1, PathBuf::new(), 0, 0))
        };
        key(a).cmp(&key(b)).then(a.severity.cmp(&b.severity))
    });
}
