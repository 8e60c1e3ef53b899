//! The pages' languages: the catalogues, which one a request gets, and the
//! texts a page is rendered with.
//!
//! - **Catalogues.** One file per language in `static/lang/<tag>.txt`, each
//!   line `key = text`, compiled in; the keys are [`Text`]. English is the
//!   source and the fallback: a text a catalogue lacks is shown in English.
//!   The operator may override any text or add a language at runtime with
//!   `admin texts set` ([`Overrides`], one KV record).
//! - **The choice** ([`choose`]): the `lang` field a page of ours carried
//!   (so the POST after a wrong password answers in the language of the
//!   GET), then `ui_locales` (OIDC Core §3.1.2.1), then `Accept-Language` by
//!   q-value, a tag matching exactly or by its primary subtag (`de-AT` finds
//!   `de`, `pt` finds `pt-BR`), then English.
//! - **Rendering.** Endpoints answer with a page to render
//!   (`page::View`); the router renders it once, in the chosen
//!   language, and sets `Content-Language` (and `Vary: Accept-Language` when
//!   the header decided).
//!
//! OAuth's JSON errors stay English: `error` is an RFC's code and
//! `error_description` is for developers.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::OnceLock;

mod overrides;
#[cfg(test)]
mod tests;
mod text;

pub use overrides::{Overrides, OverridesCache};
pub use text::Text;

/// The languages compiled in: Alexa's skill languages. (tag, right to left,
/// catalogue).
const BUILT_IN: &[(&str, bool, &str)] = &[
    ("en", false, include_str!("../../static/lang/en.txt")),
    ("ar", true, include_str!("../../static/lang/ar.txt")),
    ("de", false, include_str!("../../static/lang/de.txt")),
    ("es", false, include_str!("../../static/lang/es.txt")),
    ("fr", false, include_str!("../../static/lang/fr.txt")),
    ("hi", false, include_str!("../../static/lang/hi.txt")),
    ("it", false, include_str!("../../static/lang/it.txt")),
    ("ja", false, include_str!("../../static/lang/ja.txt")),
    ("nl", false, include_str!("../../static/lang/nl.txt")),
    ("pt-BR", false, include_str!("../../static/lang/pt-BR.txt")),
];

/// The key of a catalogue line that says the language reads right to left
/// (`dir = rtl`): an operator's added language says so there.
const DIR: &str = "dir";

/// One catalogue, by [`Text`] index; `None` where it lacks the text.
pub type Table = Vec<Option<Box<str>>>;

/// A catalogue's lines, or the first that is not `key = text` with a key of
/// [`Text`] (comments `#` and blank lines aside): (table, right to left).
pub fn parse(source: &str) -> Result<(Table, bool), String> {
    let mut table: Table = vec![None; Text::ALL.len()];
    let mut rtl = false;
    for (n, line) in source.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, text)) = line.split_once('=') else {
            return Err(format!("line {}: not `key = text`", n + 1));
        };
        let (key, text) = (key.trim(), text.trim());
        if key == DIR {
            rtl = match text {
                "rtl" => true,
                "ltr" => false,
                _ => return Err(format!("line {}: dir is ltr or rtl", n + 1)),
            };
            continue;
        }
        let Some(i) = Text::ALL.iter().position(|t| t.key() == key) else {
            return Err(format!("line {}: no text is called {key:?}", n + 1));
        };
        table[i] = Some(text.into());
    }
    Ok((table, rtl))
}

/// A catalogue an operator gives (`admin texts set`), checked as the built-in
/// ones are: every line a text of [`Text`], each with the placeholders of its
/// English text. A missing text is allowed: it stays the built-in one.
pub fn check(source: &str) -> Result<(), String> {
    let (table, _) = parse(source)?;
    for (i, text) in table.iter().enumerate() {
        let Some(text) = text else { continue };
        let english = built_in(0)[i].as_deref().unwrap_or_default();
        let (mut want, mut have) = (placeholders(english), placeholders(text));
        want.sort_unstable();
        have.sort_unstable();
        if want != have {
            let key = Text::ALL[i].key();
            return Err(format!(
                "{key} must hold {want:?}, as in English, not {have:?}"
            ));
        }
    }
    Ok(())
}

/// Whether `tag` can name a language: letters, digits and `-`, as BCP 47
/// tags are, at most 35 characters.
pub fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The built-in catalogue of `tag`, as written in `static/lang/`.
pub fn built_in_source(tag: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|l| l.0 == tag).map(|l| l.2)
}

/// The built-in table of `BUILT_IN[i]`, parsed once per isolate.
fn built_in(i: usize) -> &'static Table {
    static TABLES: OnceLock<Vec<OnceLock<Table>>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| BUILT_IN.iter().map(|_| OnceLock::new()).collect());
    // The catalogues' own test holds each to the list of texts.
    tables[i].get_or_init(|| parse(BUILT_IN[i].2).map(|(t, _)| t).unwrap_or_default())
}

/// The tags of the built-in languages.
pub fn built_in_tags() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|l| l.0)
}

/// The placeholders (`{name}`) of a text, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        names.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    names
}

/// A text with the values for its placeholders: what an endpoint says, in
/// no language yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phrase {
    pub text: Text,
    pub values: Vec<(&'static str, String)>,
}

impl Phrase {
    /// `text` with the value of its placeholder `name`.
    pub fn with(text: Text, name: &'static str, value: impl Into<String>) -> Self {
        Self {
            text,
            values: vec![(name, value.into())],
        }
    }

    /// And the value of another placeholder.
    pub fn and(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.values.push((name, value.into()));
        self
    }
}

impl From<Text> for Phrase {
    fn from(text: Text) -> Self {
        Self {
            text,
            values: Vec::new(),
        }
    }
}

/// The texts of one language, as a page is rendered with them.
#[derive(Clone)]
pub struct Texts {
    tag: Rc<str>,
    rtl: bool,
    /// Its built-in catalogue (none for a language only the operator added).
    built_in: Option<&'static Table>,
    /// The operator's texts for it.
    own: Option<Rc<Table>>,
}

impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.tag)
    }
}

impl Default for Texts {
    /// English, as compiled in.
    fn default() -> Self {
        Self {
            tag: "en".into(),
            rtl: false,
            built_in: Some(built_in(0)),
            own: None,
        }
    }
}

impl Texts {
    /// The language's tag, for `<html lang>`, `Content-Language` and the
    /// forms' `lang` field.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// `rtl` or `ltr`, for `<html dir>`.
    pub fn dir(&self) -> &'static str {
        if self.rtl {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// The text in this language: the operator's, else the built-in one,
    /// else English.
    pub fn get(&self, text: impl Borrow<Text>) -> &str {
        let i = *text.borrow() as usize;
        let own = self.own.as_ref().and_then(|t| t.get(i)?.as_deref());
        own.or_else(|| self.built_in.and_then(|t| t.get(i)?.as_deref()))
            .or_else(|| built_in(0).get(i)?.as_deref())
            .unwrap_or_default()
    }

    /// The text with its placeholders filled in (plain text: the template
    /// escapes it).
    pub fn fill(&self, text: Text, values: &[(&str, &str)]) -> String {
        fill(self.get(text), values)
    }

    /// A phrase in this language.
    pub fn phrase(&self, p: &Phrase) -> String {
        let values: Vec<(&str, &str)> = p.values.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.fill(p.text, &values)
    }

    /// The text before and after its placeholder `name`, the others filled
    /// in: for a value the page marks up (`<strong>`), wherever a language
    /// puts it.
    pub fn around(&self, text: Text, name: &str, values: &[(&str, &str)]) -> (String, String) {
        let whole = self.get(text);
        let mark = format!("{{{name}}}");
        let (before, after) = whole.split_once(&mark).unwrap_or((whole, ""));
        (fill(before, values), fill(after, values))
    }
}

fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The languages a request may get: the built-in ones and the operator's.
pub struct Languages<'a> {
    overrides: &'a Overrides,
}

impl<'a> Languages<'a> {
    pub fn new(overrides: &'a Overrides) -> Self {
        Self { overrides }
    }

    /// The language a tag names: exactly (case aside), else by its primary
    /// subtag (`de-AT` is `de`, `pt` is `pt-BR`).
    pub fn find(&self, tag: &str) -> Option<Texts> {
        let tag = tag.trim();
        if tag.is_empty() || tag == "*" || tag.len() > 35 {
            return None;
        }
        let primary = |t: &str| t.split('-').next().unwrap_or_default().to_ascii_lowercase();
        let wanted = primary(tag);
        let mut tags: Vec<&str> = built_in_tags().collect();
        tags.extend(self.overrides.tags());
        let exact = tags.iter().find(|t| t.eq_ignore_ascii_case(tag));
        let found = exact.or_else(|| tags.iter().find(|t| primary(t) == wanted))?;
        Some(self.texts(found))
    }

    /// The texts of a tag that exists (built in or the operator's).
    fn texts(&self, tag: &str) -> Texts {
        let i = BUILT_IN.iter().position(|l| l.0 == tag);
        let own = self.overrides.get(tag);
        Texts {
            tag: tag.into(),
            rtl: own
                .map(|o| o.1)
                .unwrap_or_else(|| i.is_some_and(|i| BUILT_IN[i].1)),
            built_in: i.map(built_in),
            own: own.map(|o| o.0.clone()),
        }
    }

    /// English, with the operator's English texts.
    pub fn english(&self) -> Texts {
        self.texts("en")
    }
}

/// The language a request gets, and whether `Accept-Language` decided it.
pub struct Chosen {
    pub texts: Texts,
    pub by_header: bool,
}

/// Picks the language: `carried` (a page's `lang` field), then each tag of
/// `ui_locales` (space-separated, in order), then `Accept-Language` by
/// q-value, then English.
pub fn choose(
    langs: &Languages<'_>,
    carried: Option<&str>,
    ui_locales: Option<&str>,
    accept_language: Option<&str>,
) -> Chosen {
    let asked = carried
        .into_iter()
        .chain(ui_locales.unwrap_or_default().split_ascii_whitespace());
    if let Some(texts) = asked.filter_map(|t| langs.find(t)).next() {
        return Chosen {
            texts,
            by_header: false,
        };
    }
    let from_header = accept_language.and_then(|h| by_quality(h).find_map(|t| langs.find(t)));
    Chosen {
        // Without the header too: the answer depends on it.
        by_header: true,
        texts: from_header.unwrap_or_else(|| langs.english()),
    }
}

/// RFC 9110 §12.5.4: the tags of an `Accept-Language` header, highest
/// q-value first (in header order among equals), without those at `q=0`.
fn by_quality(header: &str) -> impl Iterator<Item = &str> {
    let mut tags: Vec<(u16, &str)> = header
        .split(',')
        .take(32)
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), quality)?;
            (q > 0 && !tag.is_empty()).then_some((q, tag))
        })
        .collect();
    tags.sort_by_key(|(q, _)| std::cmp::Reverse(*q));
    tags.into_iter().map(|(_, tag)| tag)
}

/// A q-value (`0` to `1` with up to three decimals) in thousandths.
fn quality(q: &str) -> Option<u16> {
    let (whole, frac) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The operator's catalogues as stored: tag → catalogue source.
pub type Sources = BTreeMap<String, String>;
