//! The operator's texts: catalogues `admin texts set` stores in one KV record
//! (`texts`, see [`crate::store::keys`]), which override the built-in texts
//! of a language or add a language, without a rebuild.
//!
//! Each isolate keeps its copy for [`OverridesCache`]'s bound, so a page
//! costs at most one KV read per isolate per bound. A failed read renders
//! the built-in texts: a brand name is not worth a page that fails.

use std::cell::RefCell;
use std::rc::Rc;

use super::{parse, Sources, Table};
use crate::store::{from_json, keys, Store};

/// Seconds an isolate trusts its copy of the operator's texts.
const TTL: u64 = 60;

/// The operator's catalogues, parsed: (tag, table, right to left).
#[derive(Debug, Default)]
pub struct Overrides {
    languages: Vec<(String, Rc<Table>, bool)>,
}

impl Overrides {
    /// From the stored sources; a catalogue that does not parse is left out
    /// (`admin` checks each before it stores it).
    pub fn from_sources(sources: &Sources) -> Self {
        let languages = sources
            .iter()
            .filter_map(|(tag, source)| {
                let (table, rtl) = parse(source).ok()?;
                Some((tag.clone(), Rc::new(table), rtl))
            })
            .collect();
        Self { languages }
    }

    /// The tags the operator has texts for.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.languages.iter().map(|l| l.0.as_str())
    }

    /// The operator's texts for `tag`, and whether it reads right to left.
    pub(super) fn get(&self, tag: &str) -> Option<(&Rc<Table>, bool)> {
        self.languages
            .iter()
            .find(|l| l.0 == tag)
            .map(|l| (&l.1, l.2))
    }
}

/// An isolate's copy of the operator's texts.
#[derive(Debug, Default)]
pub struct OverridesCache {
    // Never borrowed across an `.await`.
    copy: RefCell<Option<(u64, Rc<Overrides>)>>,
}

impl OverridesCache {
    /// The operator's texts, from a copy at most a minute old.
    pub async fn get<S: Store + ?Sized>(&self, store: &S, now: u64) -> Rc<Overrides> {
        if let Some((at, copy)) = self.copy.borrow().as_ref() {
            if now < at + TTL {
                return copy.clone();
            }
        }
        let read = store.get(keys::TEXTS).await;
        let Ok(sources) = read.and_then(|text| from_json::<Sources>(keys::TEXTS, text)) else {
            // Tried again on the next page.
            return Rc::default();
        };
        let copy = Rc::new(Overrides::from_sources(&sources.unwrap_or_default()));
        *self.copy.borrow_mut() = Some((now, copy.clone()));
        copy
    }
}
