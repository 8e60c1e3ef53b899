use super::*;

fn english() -> Table {
    parse(BUILT_IN[0].2).expect("en.txt parses").0
}

#[test]
fn every_catalogue_has_every_text_with_its_placeholders() {
    let en = english();
    for (i, t) in en.iter().enumerate() {
        assert!(t.is_some(), "en.txt lacks {}", Text::ALL[i].key());
    }
    for (tag, rtl, source) in BUILT_IN {
        let (table, says_rtl) = parse(source).unwrap_or_else(|e| panic!("{tag}.txt: {e}"));
        assert_eq!(says_rtl, *rtl, "{tag}.txt's dir");
        for (i, text) in table.iter().enumerate() {
            let key = Text::ALL[i].key();
            let text = text
                .as_deref()
                .unwrap_or_else(|| panic!("{tag}.txt lacks {key}"));
            let mut want = placeholders(en[i].as_deref().unwrap());
            let mut have = placeholders(text);
            want.sort_unstable();
            have.sort_unstable();
            assert_eq!(have, want, "{tag}.txt: the placeholders of {key}");
        }
    }
}

#[test]
fn a_catalogue_line_that_is_not_a_text_is_refused() {
    assert!(parse("sign_in = Anmelden\n# note\n\n").is_ok());
    assert!(parse("no_such_text = x")
        .unwrap_err()
        .contains("no_such_text"));
    assert!(parse("sign_in Anmelden").unwrap_err().contains("line 1"));
    assert!(parse("dir = up").is_err());
    assert!(parse("dir = rtl").unwrap().1);
}

fn pick(
    langs: &Languages<'_>,
    carried: Option<&str>,
    ui: Option<&str>,
    header: Option<&str>,
) -> (String, bool) {
    let c = choose(langs, carried, ui, header);
    (c.texts.tag().to_owned(), c.by_header)
}

#[test]
fn the_language_comes_from_the_form_then_ui_locales_then_the_header() {
    let none = Overrides::default();
    let langs = Languages::new(&none);
    let de = Some("de-DE,de;q=0.9");
    assert_eq!(
        pick(&langs, Some("ja"), Some("fr"), de),
        ("ja".into(), false)
    );
    assert_eq!(
        pick(&langs, None, Some("xx fr-CA"), de),
        ("fr".into(), false)
    );
    assert_eq!(pick(&langs, Some("xx"), None, de), ("de".into(), true));
    assert_eq!(pick(&langs, None, None, None), ("en".into(), true));
    assert_eq!(pick(&langs, None, None, Some("sv, *")), ("en".into(), true));
}

#[test]
fn accept_language_goes_by_q_value_and_by_prefix() {
    let none = Overrides::default();
    let langs = Languages::new(&none);
    for (header, want) in [
        ("pt-BR", "pt-BR"),
        ("pt", "pt-BR"),
        ("pt-PT", "pt-BR"),
        ("de-AT", "de"),
        ("AR-eg", "ar"),
        ("en;q=0.5, ja;q=0.8", "ja"),
        ("fr;q=0, it", "it"),
        ("sv, nl;q=0.1, es;q=0.2", "es"),
        ("hi;q=1.0, de;q=0.999", "hi"),
        ("de;q=2, ja;q=0.1", "ja"),
        ("", "en"),
        (";;,,q=", "en"),
    ] {
        assert_eq!(pick(&langs, None, None, Some(header)).0, want, "{header}");
    }
}

#[test]
fn arabic_reads_right_to_left() {
    let none = Overrides::default();
    let langs = Languages::new(&none);
    assert_eq!(langs.find("ar").unwrap().dir(), "rtl");
    assert_eq!(langs.find("de").unwrap().dir(), "ltr");
}

#[test]
fn the_operator_overrides_a_text_and_adds_a_language() {
    let sources = Sources::from([
        (
            "de".to_owned(),
            "sign_in = Einloggen bei Beispiel".to_owned(),
        ),
        ("sv".to_owned(), "sign_in = Logga in".to_owned()),
        ("fa".to_owned(), "dir = rtl\nsign_in = ورود".to_owned()),
        ("broken".to_owned(), "not a line".to_owned()),
    ]);
    let own = Overrides::from_sources(&sources);
    let langs = Languages::new(&own);
    let de = langs.find("de").unwrap();
    assert_eq!(de.get(Text::sign_in), "Einloggen bei Beispiel");
    // The rest stays the built-in German.
    assert_eq!(
        de.get(Text::cancel),
        Languages::new(&Overrides::default())
            .find("de")
            .unwrap()
            .get(Text::cancel)
    );
    let sv = langs.find("sv-SE").unwrap();
    assert_eq!((sv.tag(), sv.get(Text::sign_in)), ("sv", "Logga in"));
    // What the operator left out is English.
    assert_eq!(sv.get(Text::cancel), "Cancel");
    assert_eq!(langs.find("fa").unwrap().dir(), "rtl");
    assert!(langs.find("broken").is_none());
}

#[test]
fn a_phrase_fills_its_values_and_around_splits_at_one() {
    let t = Texts::default();
    let p = Phrase::with(Text::link_ended, "client", "Skill").and("minutes", "60");
    let text = t.phrase(&p);
    assert!(text.starts_with("Skill can no longer") && text.contains("within 60 minutes"));
    let (before, after) = t.around(Text::signed_in_as, "name", &[("username", "ann")]);
    assert_eq!(
        (before.as_str(), after.as_str()),
        ("Signed in as ", " (ann).")
    );
}
