//! "Did you mean" suggestions by edit distance.

/// The candidate closest to `input`, if it is close enough to be a likely misspelling.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lowered = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| !c.is_empty() && *c != input)
        .map(|c| {
            let distance = strsim::damerau_levenshtein(&lowered, &c.to_ascii_lowercase());
            (distance, c)
        })
        .filter(|(distance, c)| {
            let longest = input.chars().count().max(c.chars().count());
            *distance <= (longest / 3).clamp(1, 5)
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// A `help:` line for `input`, when a candidate is close.
pub fn help_for<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(input, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        let names = ["prefix", "host", "port"];
        assert_eq!(did_you_mean("prefx", names), Some("prefix"));
        assert_eq!(did_you_mean("Host", names), Some("host"));
        assert_eq!(did_you_mean("database", names), None);
    }

    #[test]
    fn dotted_component_names() {
        let names = ["plugins.memory.storages.MemoryStorage", "plugins.respond.actions.RespondAction"];
        assert_eq!(
            did_you_mean("plugins.memory.storages.MemoryStorag", names),
            Some("plugins.memory.storages.MemoryStorage")
        );
        assert_eq!(did_you_mean("plugins.valkey.storages.ValkeyStorage", names), None);
    }
}
