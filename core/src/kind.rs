//! The three kinds of components.

use std::fmt;

/// What a component is: where it may be used in a document and which trait it implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Keeps bytes under keys (`storages:` section).
    Storage,
    /// Runs around a request (`middlewares:` section).
    Middleware,
    /// Answers a request at the end of a route (`actions:` section).
    Action,
}

impl Kind {
    /// All kinds, in the order of the document's sections.
    pub const ALL: [Kind; 3] = [Kind::Storage, Kind::Middleware, Kind::Action];

    /// The segment of a dotted name: `storages`, `middlewares`, `actions`.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::Storage => "storages",
            Kind::Middleware => "middlewares",
            Kind::Action => "actions",
        }
    }

    /// The document section that defines components of this kind (same as [`Kind::segment`]).
    pub fn section(self) -> &'static str {
        self.segment()
    }

    /// The lowercase singular word: `storage`, `middleware`, `action`.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Storage => "storage",
            Kind::Middleware => "middleware",
            Kind::Action => "action",
        }
    }

    /// The word with its article: `a storage`, `a middleware`, `an action`.
    pub fn with_article(self) -> &'static str {
        match self {
            Kind::Storage => "a storage",
            Kind::Middleware => "a middleware",
            Kind::Action => "an action",
        }
    }

    /// Parses `storage`/`storages`, `middleware`/`middlewares`, `action`/`actions`.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| text.eq_ignore_ascii_case(k.word()) || text.eq_ignore_ascii_case(k.segment()))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}
