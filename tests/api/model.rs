//! Model-based property test: random sequences of posts, replies, deletes, follows and
//! unfollows among four users, applied through the API to a fresh server per case. At
//! the middle and at the end, every home, public, tag and account timeline, read page by
//! page through the `Link` headers by every user and logged out, must equal what a
//! simple in-memory model of the visibility rules predicts. About half the cases run with a
//! celebrity threshold of one follower, so home timelines are also merged at read time.
//!
//! `PROPTEST_CASES=64 cargo test --test api model` runs more cases.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::timelines::all_pages;

const USERS: usize = 4;
const TAG: &str = "topic";
/// Small pages, so every timeline is read through several `rel="next"` links.
const PAGE: &str = "limit=3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vis {
    Public,
    Unlisted,
    Private,
    Direct,
}

impl Vis {
    fn api(self) -> &'static str {
        match self {
            Vis::Public => "public",
            Vis::Unlisted => "unlisted",
            Vis::Private => "private",
            Vis::Direct => "direct",
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// `reply_to` picks one of the statuses created so far (deleted ones included).
    Post {
        author: usize,
        vis: Vis,
        tag: bool,
        mention: Option<usize>,
        reply_to: Option<Index>,
    },
    /// Its author deletes one of the statuses created so far.
    Delete {
        status: Index,
    },
    Follow {
        a: usize,
        b: usize,
    },
    Unfollow {
        a: usize,
        b: usize,
    },
}

fn vis() -> impl Strategy<Value = Vis> {
    prop_oneof![Just(Vis::Public), Just(Vis::Unlisted), Just(Vis::Private), Just(Vis::Direct)]
}

fn op() -> impl Strategy<Value = Op> {
    let pair = || (0..USERS, 1..USERS).prop_map(|(a, d)| (a, (a + d) % USERS));
    let reply_to = proptest::option::weighted(0.4, any::<Index>());
    let post = (0..USERS, vis(), any::<bool>(), proptest::option::of(0..USERS), reply_to)
        .prop_map(|(author, vis, tag, mention, reply_to)| Op::Post { author, vis, tag, mention, reply_to });
    prop_oneof![
        6 => post,
        1 => any::<Index>().prop_map(|status| Op::Delete { status }),
        3 => pair().prop_map(|(a, b)| Op::Follow { a, b }),
        1 => pair().prop_map(|(a, b)| Op::Unfollow { a, b }),
    ]
}

struct ModelStatus {
    id: String,
    author: usize,
    vis: Vis,
    tagged: bool,
    mention: Option<usize>,
    /// The parent's author, for a reply.
    reply_to_account: Option<usize>,
    deleted: bool,
}

#[derive(Default)]
struct Model {
    /// `follows[a][b]`: a follows b.
    follows: [[bool; USERS]; USERS],
    /// In creation order, which is id order.
    statuses: Vec<ModelStatus>,
}

impl Model {
    fn can_view(&self, viewer: Option<usize>, s: &ModelStatus) -> bool {
        if viewer == Some(s.author) {
            return true;
        }
        match (s.vis, viewer) {
            (Vis::Public | Vis::Unlisted, _) => true,
            (_, None) => false,
            (Vis::Private, Some(v)) => self.follows[v][s.author] || s.mention == Some(v),
            (Vis::Direct, Some(v)) => s.mention == Some(v),
        }
    }

    /// Existing statuses that pass `keep`, newest first.
    fn select(&self, keep: impl Fn(&ModelStatus) -> bool) -> Vec<String> {
        self.statuses.iter().rev().filter(|s| !s.deleted && keep(s)).map(|s| s.id.clone()).collect()
    }

    fn home(&self, u: usize) -> Vec<String> {
        self.select(|s| {
            if s.author == u {
                return true;
            }
            if !self.follows[u][s.author] || !self.can_view(Some(u), s) {
                return false;
            }
            match s.reply_to_account {
                Some(r) if r != s.author && r != u => self.follows[u][r],
                _ => true,
            }
        })
    }

    fn public(&self) -> Vec<String> {
        self.select(|s| s.vis == Vis::Public && s.reply_to_account.is_none_or(|r| r == s.author))
    }

    fn tag(&self) -> Vec<String> {
        self.select(|s| s.vis == Vis::Public && s.tagged)
    }

    fn account(&self, author: usize, viewer: Option<usize>) -> Vec<String> {
        self.select(|s| s.author == author && self.can_view(viewer, s))
    }
}

struct Users {
    tokens: Vec<String>,
    ids: Vec<String>,
}

impl Users {
    fn token(&self, viewer: Option<usize>) -> Option<&str> {
        viewer.map(|v| self.tokens[v].as_str())
    }
}

/// What a failure message needs: the applied operations and readable status names.
#[derive(Default)]
struct Log {
    lines: Vec<String>,
    names: HashMap<String, String>,
}

impl Log {
    fn name(&self, id: &str) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| format!("?{id}"))
    }

    fn names(&self, ids: &[String]) -> String {
        let names: Vec<String> = ids.iter().map(|id| self.name(id)).collect();
        format!("[{}]", names.join(", "))
    }

    fn mismatch(&self, phase: &str, what: &str, expected: &[String], got: &[String]) -> String {
        format!(
            "{phase}: {what} differs from the model\n  expected: {}\n  server:   {}\noperations:\n  {}",
            self.names(expected),
            self.names(got),
            self.lines.join("\n  ")
        )
    }
}

fn viewer_name(viewer: Option<usize>) -> String {
    viewer.map_or_else(|| "logged out".to_owned(), |v| format!("u{v}"))
}

async fn apply(app: &TestApp, users: &Users, model: &mut Model, log: &mut Log, op: &Op) -> Result<(), String> {
    match *op {
        Op::Post { author, vis, tag, mention, reply_to } => {
            let mut text = format!("post {}", log.lines.len());
            if tag {
                text.push_str(&format!(" #{TAG}"));
            }
            if let Some(m) = mention {
                text.push_str(&format!(" @u{m}"));
            }
            let parent = reply_to.filter(|_| !model.statuses.is_empty()).map(|i| i.index(model.statuses.len()));
            let mut body = json!({ "status": text, "visibility": vis.api() });
            let mut line = format!("u{author} posts {} {text:?}", vis.api());
            let mut parent_author = None;
            if let Some(p) = parent {
                let s = &model.statuses[p];
                body["in_reply_to_id"] = json!(s.id);
                line.push_str(&format!(" in reply to {}", log.name(&s.id)));
                if s.deleted || !model.can_view(Some(author), s) {
                    log.lines.push(format!("{line}: 404, the parent is deleted or invisible to u{author}"));
                    json_with(app.post_json("/api/v1/statuses", Some(&users.tokens[author]), &body).await, 404).await;
                    return Ok(());
                }
                parent_author = Some(s.author);
            }
            let created = ok_json(app.post_json("/api/v1/statuses", Some(&users.tokens[author]), &body).await).await;
            let id = created["id"].as_str().unwrap().to_owned();
            let name = format!("s{}", model.statuses.len());
            log.lines.push(format!("{line} -> {name}"));
            log.names.insert(id.clone(), name);
            let expected_parent_account = parent_author.map_or(Value::Null, |a| json!(users.ids[a]));
            if created["in_reply_to_account_id"] != expected_parent_account || created["visibility"] != vis.api() {
                return Err(format!("{line}: unexpected status {created}"));
            }
            model.statuses.push(ModelStatus {
                id,
                author,
                vis,
                tagged: tag,
                mention,
                reply_to_account: parent_author,
                deleted: false,
            });
        }
        Op::Delete { status } => {
            if model.statuses.is_empty() {
                return Ok(());
            }
            let n = status.index(model.statuses.len());
            let s = &mut model.statuses[n];
            let res = app
                .client
                .delete(app.url(&format!("/api/v1/statuses/{}", s.id)))
                .bearer_auth(&users.tokens[s.author])
                .send()
                .await
                .unwrap();
            let name = log.name(&s.id);
            if s.deleted {
                log.lines.push(format!("u{} deletes {name} again: 404", s.author));
                json_with(res, 404).await;
            } else {
                log.lines.push(format!("u{} deletes {name}", s.author));
                ok_json(res).await;
                s.deleted = true;
            }
        }
        Op::Follow { a, b } | Op::Unfollow { a, b } => {
            let follow = matches!(op, Op::Follow { .. });
            let verb = if follow { "follow" } else { "unfollow" };
            log.lines.push(format!("u{a} {verb}s u{b}"));
            let path = format!("/api/v1/accounts/{}/{verb}", users.ids[b]);
            let rel = ok_json(app.post_json(&path, Some(&users.tokens[a]), &json!({})).await).await;
            model.follows[a][b] = follow;
            if rel["following"] != follow {
                return Err(format!("u{a} {verb}s u{b}: relationship {rel}"));
            }
        }
    }
    Ok(())
}

/// Compares every timeline with the model. Home timelines are filled after the
/// acknowledgement, so they get a bounded wait; the others must match at once.
async fn check(app: &TestApp, users: &Users, model: &Model, log: &Log, phase: &str) -> Result<(), String> {
    let viewers: Vec<Option<usize>> = std::iter::once(None).chain((0..USERS).map(Some)).collect();
    for u in 0..USERS {
        let expected = model.home(u);
        let path = format!("/api/v1/timelines/home?{PAGE}");
        let mut got = Vec::new();
        for attempt in 0..100 {
            if attempt > 0 {
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
            got = all_pages(app, &path, Some(&users.tokens[u])).await;
            if got == expected {
                break;
            }
        }
        if got != expected {
            return Err(log.mismatch(phase, &format!("home of u{u} (after waiting 5 s)"), &expected, &got));
        }
    }
    for &viewer in &viewers {
        let token = users.token(viewer);
        let who = viewer_name(viewer);
        let got = all_pages(app, &format!("/api/v1/timelines/public?{PAGE}"), token).await;
        if got != model.public() {
            return Err(log.mismatch(phase, &format!("public timeline ({who})"), &model.public(), &got));
        }
        let got = all_pages(app, &format!("/api/v1/timelines/tag/{TAG}?{PAGE}"), token).await;
        if got != model.tag() {
            return Err(log.mismatch(phase, &format!("#{TAG} timeline ({who})"), &model.tag(), &got));
        }
        for author in 0..USERS {
            let path = format!("/api/v1/accounts/{}/statuses?{PAGE}", users.ids[author]);
            let got = all_pages(app, &path, token).await;
            let expected = model.account(author, viewer);
            if got != expected {
                return Err(log.mismatch(phase, &format!("u{author}'s statuses ({who})"), &expected, &got));
            }
        }
    }
    Ok(())
}

/// With `celebrities`, an author with more than one follower is a celebrity: their posts
/// are merged into home timelines at read time instead of being fanned out.
async fn run_case(celebrities: bool, ops: &[Op]) -> Result<(), String> {
    let app = spawn_with(|s| {
        if celebrities {
            s.fanout.celebrity_followers = 1;
        }
    })
    .await;
    let mut users = Users { tokens: Vec::new(), ids: Vec::new() };
    for u in 0..USERS {
        let (token, id) = app.user(&format!("u{u}")).await;
        users.tokens.push(token);
        users.ids.push(id);
    }
    let mut model = Model::default();
    let mut log = Log::default();
    if celebrities {
        log.lines.push("(server with fanout.celebrity_followers = 1)".to_owned());
    }
    let middle = ops.len() / 2;
    for (i, op) in ops.iter().enumerate() {
        if i == middle {
            check(&app, &users, &model, &log, "after half of the operations").await?;
        }
        apply(&app, &users, &mut model, &mut log, op).await?;
    }
    check(&app, &users, &model, &log, "after all operations").await
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 8,
        max_shrink_iters: 32,
        // Failures print the operations; no regression files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn timelines_match_the_model(celebrities in any::<bool>(), ops in proptest::collection::vec(op(), 20..=40)) {
        let result = actix_web::rt::System::new().block_on(run_case(celebrities, &ops));
        if let Err(message) = result {
            return Err(TestCaseError::fail(message));
        }
    }
}
