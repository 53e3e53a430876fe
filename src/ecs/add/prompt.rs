//! Questions and answers, behind a small trait: [`Terminal`] reads answers
//! from a reader (stdin) and shows everything on stderr; [`Scripted`] takes
//! them from a list and keeps what was shown, so the menus and the
//! confirmation are tested without a terminal. The menus themselves
//! ([`choose`], [`choose_many`], [`text`], [`confirm`]) are written once,
//! over the trait.

use super::Fail;
use std::collections::VecDeque;
use std::io::{BufRead, Write};

/// Where progress is shown and questions are asked.
pub trait Prompt {
    /// Whether questions can be asked (stdin is a terminal). Without it,
    /// every value comes from flags and nothing is asked.
    fn interactive(&self) -> bool;
    /// Show a message (one line, or several joined by `\n`).
    fn say(&mut self, msg: &str);
    /// Show `prompt` (no line break) and read one answer, trimmed. An error
    /// when there is none (input closed) or it cannot be read.
    fn ask(&mut self, prompt: &str) -> Result<String, Fail>;
}

/// Answers read from `input` (stdin, or any reader), shown on stderr.
pub struct Terminal<R> {
    interactive: bool,
    input: R,
}

impl<R: BufRead> Terminal<R> {
    pub fn new(interactive: bool, input: R) -> Terminal<R> {
        Terminal { interactive, input }
    }
}

impl<R: BufRead> Prompt for Terminal<R> {
    fn interactive(&self) -> bool {
        self.interactive
    }

    fn say(&mut self, msg: &str) {
        eprintln!("{msg}");
    }

    fn ask(&mut self, prompt: &str) -> Result<String, Fail> {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) => Err(closed()),
            Ok(_) => Ok(line.trim().to_string()),
            Err(e) => Err(Fail::Error(format!("cannot read the answer: {e}"))),
        }
    }
}

fn closed() -> Fail {
    Fail::Error("no answer (input closed): nothing was changed".into())
}

/// Answers from a list; what was shown (messages, each followed by a line
/// break, and prompts) is kept in [`Scripted::shown`].
pub struct Scripted {
    interactive: bool,
    answers: VecDeque<String>,
    pub shown: String,
}

impl Scripted {
    /// `answers` are given in turn; when they run out, the input is closed.
    pub fn new(interactive: bool, answers: &[&str]) -> Scripted {
        Scripted {
            interactive,
            answers: answers.iter().map(|a| a.to_string()).collect(),
            shown: String::new(),
        }
    }
}

impl Prompt for Scripted {
    fn interactive(&self) -> bool {
        self.interactive
    }

    fn say(&mut self, msg: &str) {
        self.shown.push_str(msg);
        self.shown.push('\n');
    }

    fn ask(&mut self, prompt: &str) -> Result<String, Fail> {
        self.shown.push_str(prompt);
        let a = self.answers.pop_front().ok_or_else(closed)?;
        self.shown.push_str(&a);
        self.shown.push('\n');
        Ok(a.trim().to_string())
    }
}

fn list(p: &mut dyn Prompt, what: &str, items: &[String]) {
    p.say(&format!("{what}:"));
    for (i, it) in items.iter().enumerate() {
        p.say(&format!("  {:>3}) {it}", i + 1));
    }
}

/// Pick one of `items` by number. One item is taken without asking.
pub fn choose(p: &mut dyn Prompt, what: &str, items: &[String]) -> Result<usize, Fail> {
    if items.len() == 1 {
        p.say(&format!("{what}: {} (the only one)", items[0]));
        return Ok(0);
    }
    list(p, what, items);
    loop {
        let a = p.ask(&format!("{what} [1-{}]: ", items.len()))?;
        match a.parse::<usize>() {
            Ok(n) if (1..=items.len()).contains(&n) => return Ok(n - 1),
            _ => p.say(&format!("  please type a number from 1 to {}", items.len())),
        }
    }
}

/// Pick some of `items`: numbers separated by spaces or commas, or Enter
/// (or "all") for all. One item is taken without asking.
pub fn choose_many(p: &mut dyn Prompt, what: &str, items: &[String]) -> Result<Vec<usize>, Fail> {
    if items.len() == 1 {
        p.say(&format!("{what}: {} (the only one)", items[0]));
        return Ok(vec![0]);
    }
    list(p, what, items);
    'ask: loop {
        let a = p.ask(&format!(
            "{what} to update [numbers, e.g. 1 3; Enter = all {}]: ",
            items.len()
        ))?;
        if a.is_empty() || a.eq_ignore_ascii_case("all") {
            return Ok((0..items.len()).collect());
        }
        let mut out = Vec::new();
        for w in a.split([' ', ',']).filter(|w| !w.is_empty()) {
            match w.parse::<usize>() {
                Ok(n) if (1..=items.len()).contains(&n) => {
                    if !out.contains(&(n - 1)) {
                        out.push(n - 1)
                    }
                }
                _ => {
                    p.say(&format!(
                        "  '{w}' is not a number from 1 to {}",
                        items.len()
                    ));
                    continue 'ask;
                }
            }
        }
        return Ok(out);
    }
}

/// A value typed in, checked by `check` (asked again until it passes);
/// Enter takes `default`.
pub fn text(
    p: &mut dyn Prompt,
    prompt: &str,
    default: Option<&str>,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> Result<String, Fail> {
    loop {
        let q = match default {
            Some(d) => format!("{prompt} [{d}]: "),
            None => format!("{prompt}: "),
        };
        let mut a = p.ask(&q)?;
        if a.is_empty()
            && let Some(d) = default
        {
            a = d.to_string();
        }
        if a.is_empty() {
            p.say("  a value is needed");
            continue;
        }
        match check(&a) {
            Ok(()) => return Ok(a),
            Err(e) => p.say(&format!("  {e}")),
        }
    }
}

/// "PROMPT [y/N] ": yes only for y or yes (any case).
pub fn confirm(p: &mut dyn Prompt, prompt: &str) -> Result<bool, Fail> {
    let a = p.ask(&format!("{prompt} [y/N] "))?;
    Ok(matches!(a.to_ascii_lowercase().as_str(), "y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn terminal(input: &str, interactive: bool) -> Terminal<std::io::Cursor<Vec<u8>>> {
        Terminal::new(interactive, std::io::Cursor::new(input.as_bytes().to_vec()))
    }

    #[test]
    fn menus() {
        let items = items(&["a", "b", "c"]);
        let mut ui = terminal("9\nx\n2\n", true);
        assert_eq!(choose(&mut ui, "Thing", &items).unwrap(), 1);
        let mut ui = terminal("1 3\n", true);
        assert_eq!(choose_many(&mut ui, "Things", &items).unwrap(), vec![0, 2]);
        let mut ui = terminal("\n", true);
        assert_eq!(
            choose_many(&mut ui, "Things", &items).unwrap(),
            vec![0, 1, 2]
        );
        let mut ui = terminal("", true);
        assert!(matches!(
            choose(&mut ui, "Thing", &items),
            Err(Fail::Error(_))
        ));
        let mut ui = terminal("n\n", true);
        assert!(!confirm(&mut ui, "Proceed?").unwrap());
        let mut ui = terminal("Y\n", true);
        assert!(confirm(&mut ui, "Proceed?").unwrap());
    }

    #[test]
    fn choose_shows_the_menu_and_asks_again() {
        let mut p = Scripted::new(true, &["9", "x", " 2 "]);
        assert_eq!(choose(&mut p, "Region", &items(&["eu", "us"])).unwrap(), 1);
        assert_eq!(
            p.shown,
            "Region:\n    1) eu\n    2) us\n\
             Region [1-2]: 9\n  please type a number from 1 to 2\n\
             Region [1-2]: x\n  please type a number from 1 to 2\n\
             Region [1-2]:  2 \n"
        );
        // One item: said, not asked.
        let mut p = Scripted::new(true, &[]);
        assert_eq!(choose(&mut p, "Cluster", &items(&["prod"])).unwrap(), 0);
        assert_eq!(p.shown, "Cluster: prod (the only one)\n");
    }

    #[test]
    fn choose_many_answers() {
        let three = items(&["a", "b", "c"]);
        for (answers, want) in [
            (&["1 3"][..], vec![0, 2]),
            (&["3,1"], vec![2, 0]),
            (&["2, 2 ,2"], vec![1]),
            (&[""], vec![0, 1, 2]),
            (&["ALL"], vec![0, 1, 2]),
            (&["0", "4", "1 x", "2"], vec![1]),
        ] {
            let mut p = Scripted::new(true, answers);
            assert_eq!(
                choose_many(&mut p, "Services", &three).unwrap(),
                want,
                "{answers:?}"
            );
        }
        let mut p = Scripted::new(true, &["1 x", "2"]);
        choose_many(&mut p, "Services", &three).unwrap();
        assert!(
            p.shown
                .contains("1 x\n  'x' is not a number from 1 to 3\nServices to update [numbers, e.g. 1 3; Enter = all 3]: 2\n"),
            "{}",
            p.shown
        );
        let mut p = Scripted::new(true, &[]);
        assert_eq!(
            choose_many(&mut p, "Services", &three[..1]).unwrap(),
            vec![0]
        );
        assert_eq!(p.shown, "Services: a (the only one)\n");
    }

    #[test]
    fn text_defaults_and_checks() {
        let even = |v: &str| match v.parse::<u32>() {
            Ok(n) if n % 2 == 0 => Ok(()),
            _ => Err(format!("'{v}' is not even")),
        };
        let mut p = Scripted::new(true, &["", "3", "4"]);
        assert_eq!(text(&mut p, "Number", None, &even).unwrap(), "4");
        assert_eq!(
            p.shown,
            "Number: \n  a value is needed\nNumber: 3\n  '3' is not even\nNumber: 4\n"
        );
        let mut p = Scripted::new(true, &[""]);
        assert_eq!(text(&mut p, "Number", Some("8"), &even).unwrap(), "8");
        assert_eq!(p.shown, "Number [8]: \n");
        // Input closed: the error says nothing was changed.
        let mut p = Scripted::new(true, &[]);
        match text(&mut p, "Number", Some("8"), &even) {
            Err(Fail::Error(m)) => assert_eq!(m, "no answer (input closed): nothing was changed"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn confirm_takes_only_yes() {
        for (a, want) in [
            ("y", true),
            ("Y", true),
            ("yes", true),
            ("YES", true),
            ("", false),
            ("n", false),
            ("ja", false),
            ("yes please", false),
        ] {
            let mut p = Scripted::new(true, &[a]);
            assert_eq!(confirm(&mut p, "Proceed?").unwrap(), want, "{a:?}");
            assert_eq!(p.shown, format!("Proceed? [y/N] {a}\n"));
        }
    }
}
