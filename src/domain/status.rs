//! Statuses: visibility, the stored record, and text processing — Mastodon's length
//! rule (a URL counts 23 characters, `@user@domain` counts as `@user`, graphemes
//! otherwise) and rendering to HTML (escaped text, paragraphs and line breaks, links for
//! URLs, #hashtags and @mentions).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::{Id, ValidationError};

pub const URL_LENGTH: usize = 23;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Visibility {
    Public,
    Unlisted,
    Private,
    Direct,
}

impl Visibility {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "public" => Ok(Self::Public),
            "unlisted" => Ok(Self::Unlisted),
            "private" => Ok(Self::Private),
            "direct" => Ok(Self::Direct),
            _ => Err(ValidationError::new("visibility", "ERR_INCLUSION", "is not included in the list")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
            Self::Direct => "direct",
        }
    }

    /// Public and unlisted posts may be seen by anyone who has the link.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Public | Self::Unlisted)
    }
}

/// A mention resolved at posting time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    pub account_id: Id,
    pub username: String,
}

/// The stored status (`statusid_status`). A reblog is a status with `reblog_of` set and
/// no text of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub id: Id,
    pub account_id: Id,
    pub text: String,
    pub spoiler_text: String,
    pub visibility: Visibility,
    pub sensitive: bool,
    pub language: Option<String>,
    pub in_reply_to_id: Option<Id>,
    pub in_reply_to_account_id: Option<Id>,
    pub reblog_of: Option<Id>,
    pub mentions: Vec<Mention>,
    /// Lower-case hashtag names, without `#`, in order of appearance.
    pub tags: Vec<String>,
    pub created_at_ms: i64,
    pub edited_at_ms: Option<i64>,
}

impl Status {
    /// A new original status with Mastodon's defaults: no content warning, not
    /// sensitive, no reply, reblog or mentions, the hashtags of its text, created at its
    /// id's time, never edited.
    pub fn new(id: Id, account_id: Id, text: String, visibility: Visibility) -> Self {
        Self {
            id,
            account_id,
            tags: extract_tags(&text),
            text,
            spoiler_text: String::new(),
            visibility,
            sensitive: false,
            language: None,
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            reblog_of: None,
            mentions: Vec::new(),
            created_at_ms: id.millis(),
            edited_at_ms: None,
        }
    }

    pub fn mentions_account(&self, id: Id) -> bool {
        self.mentions.iter().any(|m| m.account_id == id)
    }

    /// A reply to someone else (Mastodon keeps these out of public timelines).
    pub fn is_reply_to_other(&self) -> bool {
        self.in_reply_to_account_id.is_some_and(|a| a != self.account_id)
    }
}

static URL_RE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)] // a constant pattern, checked by the tests
    Regex::new(r#"https?://[^\s<>"]+"#).expect("url regex")
});
static MENTION_RE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"@([A-Za-z0-9_]{1,30})(?:@([A-Za-z0-9][A-Za-z0-9.\-]*(?::[0-9]+)?))?").expect("mention regex")
});
static TAG_RE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"#([\p{L}\p{N}_]{1,100})").expect("tag regex")
});

/// One recognised piece of a status text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    Text(&'a str),
    Url(&'a str),
    /// `@username` with its optional domain.
    Mention {
        username: &'a str,
        domain: Option<&'a str>,
        raw: &'a str,
    },
    Tag(&'a str),
}

fn boundary_ok(text: &str, start: usize) -> bool {
    text[..start].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '/' | '@' | '#' | '&')))
}

/// Splits text into plain runs, URLs, mentions and hashtags (non-overlapping, in order).
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut spans: Vec<(usize, usize, Token<'_>)> = Vec::new();
    for m in URL_RE.find_iter(text) {
        let trimmed = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
        spans.push((m.start(), m.start() + trimmed.len(), Token::Url(&text[m.start()..m.start() + trimmed.len()])));
    }
    let overlaps =
        |spans: &[(usize, usize, Token<'_>)], s: usize, e: usize| spans.iter().any(|(a, b, _)| s < *b && *a < e);
    for c in MENTION_RE.captures_iter(text) {
        let (Some(all), Some(name)) = (c.get(0), c.get(1)) else { continue };
        if boundary_ok(text, all.start()) && !overlaps(&spans, all.start(), all.end()) {
            let domain = c.get(2).map(|d| d.as_str());
            spans.push((all.start(), all.end(), Token::Mention { username: name.as_str(), domain, raw: all.as_str() }));
        }
    }
    for c in TAG_RE.captures_iter(text) {
        let (Some(all), Some(name)) = (c.get(0), c.get(1)) else { continue };
        // A tag needs at least one non-digit, as on Mastodon (#1 is not a tag).
        if boundary_ok(text, all.start())
            && !name.as_str().chars().all(|ch| ch.is_numeric())
            && !overlaps(&spans, all.start(), all.end())
        {
            spans.push((all.start(), all.end(), Token::Tag(name.as_str())));
        }
    }
    spans.sort_by_key(|(s, _, _)| *s);
    let mut out = Vec::new();
    let mut at = 0;
    for (s, e, token) in spans {
        if s > at {
            out.push(Token::Text(&text[at..s]));
        }
        out.push(token);
        at = e;
    }
    if at < text.len() {
        out.push(Token::Text(&text[at..]));
    }
    out
}

/// The length Mastodon counts: graphemes, with every URL as 23 and `@user@domain` as `@user`.
pub fn countable_length(text: &str) -> usize {
    tokenize(text)
        .iter()
        .map(|t| match t {
            Token::Text(s) => s.graphemes(true).count(),
            Token::Url(_) => URL_LENGTH,
            Token::Mention { username, .. } => 1 + username.graphemes(true).count(),
            Token::Tag(name) => 1 + name.graphemes(true).count(),
        })
        .sum()
}

/// Lower-case, de-duplicated hashtags in order of appearance.
pub fn extract_tags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for t in tokenize(text) {
        if let Token::Tag(name) = t {
            let lower = name.to_lowercase();
            if !tags.contains(&lower) {
                tags.push(lower);
            }
        }
    }
    tags
}

/// Renders status text to Mastodon-style HTML. `base` is the instance URL; `local` says
/// whether a mention's domain is this instance; `mentions` are the resolved ones.
pub fn render_html(text: &str, base: &str, mentions: &[Mention], local: impl Fn(&str) -> bool) -> String {
    let normalized = text.replace("\r\n", "\n");
    let mut html = String::new();
    for paragraph in normalized.split("\n\n").filter(|p| !p.trim().is_empty()) {
        html.push_str("<p>");
        for token in tokenize(paragraph.trim_matches('\n')) {
            match token {
                Token::Text(s) => html.push_str(&html_escape::encode_quoted_attribute(s).replace('\n', "<br />")),
                Token::Url(u) => {
                    let href = html_escape::encode_double_quoted_attribute(u);
                    let shown = u.split_once("://").map_or(u, |(_, rest)| rest);
                    html.push_str(&format!(
                        "<a href=\"{href}\" target=\"_blank\" rel=\"nofollow noopener noreferrer\">{}</a>",
                        html_escape::encode_text(shown)
                    ));
                }
                Token::Mention { username, domain, raw } => {
                    let known = mentions
                        .iter()
                        .find(|m| m.username.eq_ignore_ascii_case(username) && domain.is_none_or(&local));
                    match known {
                        Some(m) => html.push_str(&format!(
                            "<span class=\"h-card\" translate=\"no\"><a href=\"{base}/@{name}\" class=\"u-url mention\">@<span>{name}</span></a></span>",
                            name = m.username
                        )),
                        None => html.push_str(&html_escape::encode_quoted_attribute(raw)),
                    }
                }
                Token::Tag(name) => html.push_str(&format!(
                    "<a href=\"{base}/tags/{lower}\" class=\"mention hashtag\" rel=\"tag\">#<span>{name}</span></a>",
                    lower = html_escape::encode_double_quoted_attribute(&name.to_lowercase()),
                    name = html_escape::encode_text(name)
                )),
            }
        }
        html.push_str("</p>");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_urls_as_23_and_graphemes_once() {
        assert_eq!(countable_length("hello"), 5);
        assert_eq!(countable_length("see https://example.com/a/very/long/path/that/goes/on?and=on"), 4 + 23);
        assert_eq!(countable_length("hi @bob@remote.example"), 3 + 4);
        assert_eq!(countable_length("👩‍👩‍👧 e\u{301}"), 3);
        assert_eq!(countable_length(&"a".repeat(500)), 500);
    }

    #[test]
    fn tokenizes_mentions_tags_and_urls() {
        let tokens = tokenize("@alice: see https://x.example/#frag, #Rust and #1 e@mail.com");
        assert_eq!(tokens[0], Token::Mention { username: "alice", domain: None, raw: "@alice" });
        assert!(tokens.contains(&Token::Url("https://x.example/#frag")));
        assert!(tokens.contains(&Token::Tag("Rust")));
        assert!(!tokens.iter().any(|t| matches!(t, Token::Tag("1"))));
        assert!(!tokens.iter().any(|t| matches!(t, Token::Mention { username: "mail", .. })));
        assert_eq!(extract_tags("#Rust #rust #ünïcode"), vec!["rust", "ünïcode"]);
    }

    #[test]
    fn renders_escaped_html_with_links() {
        let mentions = vec![Mention { account_id: Id(1), username: "alice".into() }];
        let html =
            render_html("<b>hi</b> @alice #Tag\nnext\n\nhttps://a.example/x", "https://s.example", &mentions, |_| true);
        assert!(html.starts_with("<p>&lt;b&gt;hi&lt;/b&gt; <span class=\"h-card\""), "{html}");
        assert!(html.contains("href=\"https://s.example/@alice\""));
        assert!(html.contains("href=\"https://s.example/tags/tag\""));
        assert!(html.contains("<br />next</p><p><a href=\"https://a.example/x\""));
        let unknown = render_html("@nobody & \"q\"", "https://s.example", &[], |_| true);
        assert_eq!(unknown, "<p>@nobody &amp; &quot;q&quot;</p>");
    }
}
