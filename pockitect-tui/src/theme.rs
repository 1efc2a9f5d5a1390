//! Styles that read on dark and light terminals alike: only the eight basic ANSI colours as
//! foregrounds (the terminal's palette decides the exact shade), never a hard-coded background
//! except for the error banner, and selection shown by reversing. With `NO_COLOR` set (and not
//! empty, per no-color.org) no colour is emitted at all: bold, dim and reverse carry the meaning.

use ratatui::style::{Color, Modifier, Style};

/// How a state reads at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Done, running, available.
    Good,
    /// Moving: pending, starting, in progress.
    Busy,
    /// Failed, error.
    Bad,
    /// Gone or not applicable: terminated, skipped, cancelled.
    Muted,
    Normal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Self::colored()
    }
}

impl Theme {
    pub const fn colored() -> Self {
        Self { color: true }
    }

    pub const fn plain() -> Self {
        Self { color: false }
    }

    /// Colour unless `NO_COLOR` is set to a non-empty value.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color: !no_color }
    }

    fn fg(self, c: Color, plain: Modifier) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new().add_modifier(plain)
        }
    }

    pub fn ok(self) -> Style {
        self.fg(Color::Green, Modifier::empty())
    }

    pub fn warn(self) -> Style {
        self.fg(Color::Yellow, Modifier::empty())
    }

    pub fn err(self) -> Style {
        self.fg(Color::Red, Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn accent(self) -> Style {
        self.fg(Color::Cyan, Modifier::BOLD)
    }

    pub fn key(self) -> Style {
        self.accent().add_modifier(Modifier::BOLD)
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn header(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn active_tab(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn marked(self) -> Style {
        self.fg(Color::Magenta, Modifier::empty())
            .add_modifier(Modifier::BOLD)
    }

    /// The line that says Redis is gone: loud in both modes.
    pub fn banner(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn border(self) -> Style {
        Style::new()
    }

    pub fn tone(self, tone: Tone) -> Style {
        match tone {
            Tone::Good => self.ok(),
            Tone::Busy => self.warn(),
            Tone::Bad => self.err(),
            Tone::Muted => self.dim(),
            Tone::Normal => Style::new(),
        }
    }
}

/// Classifies a free-form state word from AWS, a blueprint or a request status.
pub fn tone_of(state: &str) -> Tone {
    let s = state.to_ascii_lowercase();
    match s.as_str() {
        "running" | "available" | "active" | "in-use" | "attached" | "deployed" | "success"
        | "ok" | "created" | "ready" | "associated" | "exists" | "complete" | "completed" => {
            Tone::Good
        }
        "pending" | "starting" | "stopping" | "creating" | "modifying" | "deleting"
        | "shutting-down" | "in_progress" | "queued" | "deploying" | "destroying" | "rebooting"
        | "backing-up" | "partial" | "sent" | "updating" | "detaching" | "attaching" => Tone::Busy,
        "failed"
        | "error"
        | "impaired"
        | "incompatible-parameters"
        | "storage-full"
        | "inaccessible-encryption-credentials" => Tone::Bad,
        "terminated" | "deleted" | "skipped" | "cancelled" | "stopped" | "-" | "" => Tone::Muted,
        _ if s.contains("fail") || s.contains("error") => Tone::Bad,
        _ => Tone::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_theme_has_no_colours() {
        let t = Theme::plain();
        for s in [
            t.ok(),
            t.warn(),
            t.err(),
            t.dim(),
            t.accent(),
            t.key(),
            t.marked(),
            t.banner(),
            t.selected(),
        ] {
            assert_eq!(s.fg, None, "{s:?}");
            assert_eq!(s.bg, None, "{s:?}");
        }
        // Meaning survives without colour.
        assert!(t.err().add_modifier.contains(Modifier::BOLD));
        assert!(t.banner().add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn tones() {
        assert_eq!(tone_of("running"), Tone::Good);
        assert_eq!(tone_of("Stopping"), Tone::Busy);
        assert_eq!(tone_of("deploy_failed"), Tone::Bad);
        assert_eq!(tone_of("terminated"), Tone::Muted);
        assert_eq!(tone_of("whatever"), Tone::Normal);
    }
}
