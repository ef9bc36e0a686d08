//! Regular expression literals (`/ab+/i`), compiled with regex-automata; JavaScript's
//! common syntax is also this engine's.

use regex_automata::meta;
use regex_automata::util::syntax;

#[derive(Debug)]
pub(crate) struct Regex {
    re: meta::Regex,
}

/// One match: byte offsets of the whole match and of each capture group.
pub(crate) struct Match {
    pub start: usize,
    pub end: usize,
    pub groups: Vec<Option<(usize, usize)>>,
}

impl Regex {
    pub fn new(pattern: &str, flags: &str) -> Result<Regex, String> {
        let config = syntax::Config::new().case_insensitive(flags.contains('i')).multi_line(flags.contains('m'));
        let re = meta::Regex::builder().syntax(config).build(pattern).map_err(|e| e.to_string())?;
        Ok(Regex { re })
    }

    /// The first match starting at or after byte `from`.
    pub fn find_at(&self, haystack: &str, from: usize) -> Option<Match> {
        let mut caps = self.re.create_captures();
        let input = regex_automata::Input::new(haystack).range(from..);
        self.re.search_captures(&input, &mut caps);
        let whole = caps.get_match()?;
        let groups = (1..caps.group_len()).map(|i| caps.get_group(i).map(|s| (s.start, s.end))).collect();
        Some(Match { start: whole.start(), end: whole.end(), groups })
    }

    /// All non-overlapping matches, as JavaScript's global search finds them.
    pub fn find_all(&self, haystack: &str) -> Vec<Match> {
        let mut out = Vec::new();
        let mut from = 0;
        while from <= haystack.len() {
            let Some(m) = self.find_at(haystack, from) else { break };
            from = if m.end == m.start {
                m.end + haystack[m.end..].chars().next().map_or(1, char::len_utf8)
            } else {
                m.end
            };
            out.push(m);
        }
        out
    }
}
