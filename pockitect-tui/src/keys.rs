//! Key tables: each row names its keys, what the help overlay says about them, the footer
//! hint and the action each key dispatches, so help and footer are generated from what
//! dispatches keys and cannot drift from it. The keys that work everywhere live here; each
//! tab's table lives with its component in `app`.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::Tab;

/// Which modifiers a [`Key`] accepts (Shift is part of the character, so it is never asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mods {
    Any,
    NoCtrl,
    None,
    Ctrl,
}

/// One key a table matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    code: KeyCode,
    mods: Mods,
}

impl Key {
    /// `code` with any modifiers.
    pub const fn code(code: KeyCode) -> Self {
        Self {
            code,
            mods: Mods::Any,
        }
    }

    /// The character `c` with any modifiers.
    pub const fn ch(c: char) -> Self {
        Self::code(KeyCode::Char(c))
    }

    /// `code` without Ctrl (Ctrl with it means something else, or nothing).
    pub const fn no_ctrl(code: KeyCode) -> Self {
        Self {
            code,
            mods: Mods::NoCtrl,
        }
    }

    /// The character `c` with no modifier at all.
    pub const fn plain(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            mods: Mods::None,
        }
    }

    /// Ctrl and the character `c`.
    pub const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            mods: Mods::Ctrl,
        }
    }

    pub fn matches(&self, k: &KeyEvent) -> bool {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        k.code == self.code
            && match self.mods {
                Mods::Any => true,
                Mods::NoCtrl => !ctrl,
                Mods::None => k.modifiers.is_empty(),
                Mods::Ctrl => ctrl,
            }
    }

    /// How help writes the key.
    pub fn label(&self) -> String {
        // Named here rather than by crossterm's `Display`, which renames keys on macOS.
        let name = match self.code {
            KeyCode::Char(' ') => "Space".to_owned(),
            KeyCode::Char(c) if self.mods == Mods::Ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".to_owned(),
            KeyCode::Down => "↓".to_owned(),
            KeyCode::Left => "←".to_owned(),
            KeyCode::Right => "→".to_owned(),
            KeyCode::PageUp => "PgUp".to_owned(),
            KeyCode::PageDown => "PgDn".to_owned(),
            KeyCode::BackTab => "Shift-Tab".to_owned(),
            KeyCode::Enter => "Enter".to_owned(),
            KeyCode::Esc => "Esc".to_owned(),
            KeyCode::Tab => "Tab".to_owned(),
            KeyCode::Home => "Home".to_owned(),
            KeyCode::End => "End".to_owned(),
            KeyCode::Backspace => "Backspace".to_owned(),
            KeyCode::Delete => "Delete".to_owned(),
            other => format!("{other:?}"),
        };
        if self.mods == Mods::Ctrl {
            format!("Ctrl-{name}")
        } else {
            name
        }
    }
}

/// A short hint for the footer: the keys as the footer writes them and what they do.
pub type Hint = (&'static str, &'static str);

/// Whether a row shows in the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Footer {
    No,
    Yes(Hint),
    /// Only on this tab (the footer is cut to the width: the others have better uses for it).
    On(Tab, Hint),
}

/// One row of a key table (and of help).
#[derive(Debug)]
pub struct Binding<A: 'static> {
    /// The keys help shows, in groups (`↑ ↓  j k`), each with what it dispatches.
    pub keys: &'static [&'static [(Key, A)]],
    /// Keys that do the same without being shown: aliases the description covers.
    pub also: &'static [(Key, A)],
    pub help: &'static str,
    pub footer: Footer,
}

impl<A> Binding<A> {
    fn all(&self) -> impl Iterator<Item = &(Key, A)> {
        self.keys.iter().flat_map(|g| g.iter()).chain(self.also)
    }

    /// The key column of help: keys of a group apart by a space, groups by two.
    pub fn label(&self) -> String {
        self.keys
            .iter()
            .map(|g| {
                g.iter()
                    .map(|(k, _)| k.label())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("  ")
    }
}

/// A row of a single key, the common case: `binding!(key => action, "help")`, and with
/// `, hint ("k", "text")` at the end it also shows in the footer.
macro_rules! binding {
    ($key:expr => $action:expr, $help:literal) => {
        $crate::keys::Binding {
            keys: &[&[($key, $action)]],
            also: &[],
            help: $help,
            footer: $crate::keys::Footer::No,
        }
    };
    ($key:expr => $action:expr, $help:literal, hint $hint:expr) => {
        $crate::keys::Binding {
            keys: &[&[($key, $action)]],
            also: &[],
            help: $help,
            footer: $crate::keys::Footer::Yes($hint),
        }
    };
}
pub(crate) use binding;

/// What `k` does in `table`, if anything (the first row that has it).
pub fn lookup<A: Copy>(table: &[Binding<A>], k: &KeyEvent) -> Option<A> {
    table
        .iter()
        .flat_map(Binding::all)
        .find(|(key, _)| key.matches(k))
        .map(|(_, a)| *a)
}

/// The rows of help for `table`: keys and what they do.
pub fn help<A>(table: &[Binding<A>]) -> Vec<(String, &'static str)> {
    table.iter().map(|b| (b.label(), b.help)).collect()
}

/// The footer hints of `table` on `tab`, in table order.
pub fn hints<A>(table: &[Binding<A>], tab: Tab) -> impl Iterator<Item = Hint> + '_ {
    table.iter().filter_map(move |b| match b.footer {
        Footer::Yes(h) => Some(h),
        Footer::On(t, h) if t == tab => Some(h),
        _ => None,
    })
}

/// A cursor movement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

/// What the keys that work everywhere do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    Tab(Tab),
    NextTab,
    PrevTab,
    /// Moves the cursor of the tab (or scrolls the text dialog).
    Move(Nav),
    Reload,
    Help,
    /// Dialogs take their keys before any table (and each closes on Esc), so reaching this
    /// row means no dialog is open.
    CloseDialog,
    Quit,
}

/// Ctrl-C quits from anywhere, dialogs and the search line included.
pub const INTERRUPT: Key = Key::ctrl('c');

/// The keys that work on every tab, in the order help lists them. A tab's own table is asked
/// first (its Esc means something), so no tab may bind these keys otherwise (a test checks).
pub const GLOBAL: &[Binding<Global>] = &[
    Binding {
        keys: &[
            &[
                (Key::ch('1'), Global::Tab(Tab::Projects)),
                (Key::ch('2'), Global::Tab(Tab::Resources)),
                (Key::ch('3'), Global::Tab(Tab::Activity)),
                (Key::ch('4'), Global::Tab(Tab::Daemons)),
                (Key::ch('5'), Global::Tab(Tab::History)),
            ],
            &[(Key::code(KeyCode::Tab), Global::NextTab)],
        ],
        also: &[(Key::code(KeyCode::BackTab), Global::PrevTab)],
        help: "switch tab (Shift-Tab: back)",
        footer: Footer::No,
    },
    Binding {
        keys: &[
            &[
                (Key::no_ctrl(KeyCode::Up), Global::Move(Nav::Up)),
                (Key::no_ctrl(KeyCode::Down), Global::Move(Nav::Down)),
            ],
            &[
                (Key::no_ctrl(KeyCode::Char('j')), Global::Move(Nav::Down)),
                (Key::no_ctrl(KeyCode::Char('k')), Global::Move(Nav::Up)),
            ],
        ],
        also: &[],
        help: "move",
        footer: Footer::No,
    },
    Binding {
        keys: &[
            &[
                (Key::code(KeyCode::PageUp), Global::Move(Nav::PageUp)),
                (Key::code(KeyCode::PageDown), Global::Move(Nav::PageDown)),
            ],
            &[
                (Key::ch('g'), Global::Move(Nav::Top)),
                (Key::ch('G'), Global::Move(Nav::Bottom)),
            ],
        ],
        also: &[
            (Key::ctrl('u'), Global::Move(Nav::PageUp)),
            (Key::ctrl('d'), Global::Move(Nav::PageDown)),
            (Key::code(KeyCode::Home), Global::Move(Nav::Top)),
            (Key::code(KeyCode::End), Global::Move(Nav::Bottom)),
        ],
        help: "page up, down, top, bottom",
        footer: Footer::No,
    },
    Binding {
        keys: &[&[(Key::plain('r'), Global::Reload)]],
        also: &[],
        help: "reload from the daemon",
        footer: Footer::On(Tab::Daemons, ("r", "reload")),
    },
    binding!(Key::ch('?') => Global::Help, "this help", hint ("?", "help")),
    binding!(Key::code(KeyCode::Esc) => Global::CloseDialog, "close a dialog"),
    Binding {
        keys: &[
            &[(Key::ch('q'), Global::Quit)],
            &[(INTERRUPT, Global::Quit)],
        ],
        also: &[],
        help: "quit",
        footer: Footer::Yes(("q", "quit")),
    },
];

/// The movement `k` asks for, as the table above reads it (lists and the text dialog alike).
pub fn nav(k: &KeyEvent) -> Option<Nav> {
    match lookup(GLOBAL, k)? {
        Global::Move(n) => Some(n),
        _ => None,
    }
}

/// Applies a movement to a cursor over `len` rows, `page` rows to a page.
pub fn apply(nav: Nav, cur: usize, len: usize, page: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let last = len - 1;
    let page = page.max(1);
    match nav {
        Nav::Up => cur.saturating_sub(1),
        Nav::Down => (cur + 1).min(last),
        Nav::PageUp => cur.saturating_sub(page),
        Nav::PageDown => (cur + page).min(last),
        Nav::Top => 0,
        Nav::Bottom => last,
    }
}

/// True for Ctrl-C, which quits from anywhere.
pub fn is_interrupt(k: &KeyEvent) -> bool {
    INTERRUPT.matches(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn movement_is_clamped() {
        assert_eq!(apply(Nav::Up, 0, 10, 5), 0);
        assert_eq!(apply(Nav::Down, 9, 10, 5), 9);
        assert_eq!(apply(Nav::PageDown, 7, 10, 5), 9);
        assert_eq!(apply(Nav::PageUp, 3, 10, 5), 0);
        assert_eq!(apply(Nav::Bottom, 0, 0, 5), 0);
    }

    #[test]
    fn modifiers_are_read_as_the_keys_ask() {
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        assert_eq!(nav(&ev(KeyCode::Char('j'), none)), Some(Nav::Down));
        assert_eq!(nav(&ev(KeyCode::Char('j'), ctrl)), None);
        assert_eq!(nav(&ev(KeyCode::Up, ctrl)), None);
        assert_eq!(nav(&ev(KeyCode::Char('d'), ctrl)), Some(Nav::PageDown));
        assert_eq!(nav(&ev(KeyCode::Char('d'), none)), None);
        assert_eq!(
            nav(&ev(KeyCode::End, KeyModifiers::SHIFT)),
            Some(Nav::Bottom)
        );
        assert_eq!(
            lookup(GLOBAL, &ev(KeyCode::Char('r'), none)),
            Some(Global::Reload)
        );
        assert_eq!(lookup(GLOBAL, &ev(KeyCode::Char('r'), ctrl)), None);
        assert!(is_interrupt(&ev(KeyCode::Char('c'), ctrl)));
        assert!(!is_interrupt(&ev(KeyCode::Char('c'), none)));
    }

    impl Key {
        /// An event this key matches.
        fn event(&self) -> KeyEvent {
            let mods = match self.mods {
                Mods::Ctrl => KeyModifiers::CONTROL,
                _ => KeyModifiers::NONE,
            };
            KeyEvent::new(self.code, mods)
        }
    }

    #[test]
    fn no_tab_key_shadows_a_global_one() {
        use crate::app::{activity, daemons, projects, resources};
        for (key, global) in GLOBAL.iter().flat_map(Binding::all) {
            // Ctrl-C is taken before any table; Esc has no dialog to close where a tab uses it.
            if *key == INTERRUPT || *global == Global::CloseDialog {
                continue;
            }
            let e = key.event();
            assert_eq!(lookup(projects::KEYS, &e), None, "{key:?}");
            assert_eq!(lookup(resources::KEYS, &e), None, "{key:?}");
            assert_eq!(lookup(activity::KEYS, &e), None, "{key:?}");
            if let Some(n) = lookup(daemons::KEYS, &e) {
                assert_eq!(Global::Move(n), *global, "{key:?}");
            }
        }
    }

    #[test]
    fn labels_come_from_the_keys() {
        let labels: Vec<String> = help(GLOBAL).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            labels,
            [
                "1 2 3 4 5  Tab",
                "↑ ↓  j k",
                "PgUp PgDn  g G",
                "r",
                "?",
                "Esc",
                "q  Ctrl-C"
            ]
        );
        assert_eq!(Key::ch(' ').label(), "Space");
    }
}
