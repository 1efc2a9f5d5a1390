//! The daemon's policy (`[policy]` in `pockitect.toml`): per command, whether it runs at once
//! (`allow`), only with the digest of the plan its user confirmed (`approve`), or never
//! (`deny`); and rules by tag that deny (or require approval, or allow) a command for what
//! carries the tag. The one place that decides whether a command may act; the handlers ask it
//! between planning and acting, with the plan they made.

use std::collections::BTreeMap;
use std::fmt;

use pockitect_proto::audit::Authorization;
use pockitect_proto::{Approval, ErrorCode, PlanDigest};
use serde::Deserialize;

use crate::events::HandlerError;

/// What the policy governs: each command that acts on AWS or on the projects (queries only
/// read, and are always allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Scan,
    Refresh,
    Deploy,
    PowerStart,
    PowerStop,
    Terminate,
    Destroy,
}

impl Act {
    const ALL: [Act; 7] = [
        Act::Scan,
        Act::Refresh,
        Act::Deploy,
        Act::PowerStart,
        Act::PowerStop,
        Act::Terminate,
        Act::Destroy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Act::Scan => "scan",
            Act::Refresh => "refresh",
            Act::Deploy => "deploy",
            Act::PowerStart => "power_start",
            Act::PowerStop => "power_stop",
            Act::Terminate => "terminate",
            Act::Destroy => "destroy",
        }
    }

    /// Acts that make a plan a user can confirm (the others cannot be `approve`).
    fn has_plan(self) -> bool {
        !matches!(self, Act::Scan | Act::Refresh)
    }

    /// What an unconfigured daemon does: whatever deletes or stops needs an approved plan.
    fn default_rule(self) -> Rule {
        match self {
            Act::PowerStop | Act::Terminate | Act::Destroy => Rule::Approve,
            _ => Rule::Allow,
        }
    }
}

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Allow,
    Approve,
    Deny,
}

/// A rule by tag: `when_tag` is `KEY=VALUE` (or `KEY`, any value).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRuleFile {
    pub name: Option<String>,
    pub when_tag: String,
    pub commands: Vec<Act>,
    pub rule: Rule,
}

/// `[policy]` as written in `pockitect.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    scan: Option<Rule>,
    refresh: Option<Rule>,
    deploy: Option<Rule>,
    power_start: Option<Rule>,
    power_stop: Option<Rule>,
    terminate: Option<Rule>,
    destroy: Option<Rule>,
    #[serde(default)]
    rules: Vec<TagRuleFile>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct TagRule {
    name: String,
    key: String,
    value: Option<String>,
    commands: Vec<Act>,
    rule: Rule,
}

impl TagRule {
    fn matches(&self, act: Act, tags: &[&BTreeMap<String, String>]) -> bool {
        self.commands.contains(&act)
            && tags.iter().any(|t| {
                t.get(&self.key)
                    .is_some_and(|v| self.value.as_ref().is_none_or(|want| want == v))
            })
    }
}

/// The resolved policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    commands: BTreeMap<Act, Rule>,
    rules: Vec<TagRule>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            commands: Act::ALL.iter().map(|a| (*a, a.default_rule())).collect(),
            rules: Vec::new(),
        }
    }
}

impl TryFrom<PolicyFile> for Policy {
    type Error = anyhow::Error;

    fn try_from(f: PolicyFile) -> anyhow::Result<Self> {
        let mut p = Policy::default();
        let given = [
            (Act::Scan, f.scan),
            (Act::Refresh, f.refresh),
            (Act::Deploy, f.deploy),
            (Act::PowerStart, f.power_start),
            (Act::PowerStop, f.power_stop),
            (Act::Terminate, f.terminate),
            (Act::Destroy, f.destroy),
        ];
        for (act, rule) in given {
            let Some(rule) = rule else { continue };
            check_rule(&format!("policy.{act}"), act, rule)?;
            p.commands.insert(act, rule);
        }
        for (i, r) in f.rules.into_iter().enumerate() {
            let name = r.name.unwrap_or_else(|| format!("rules[{i}]"));
            let at = format!("policy.rules.{name}");
            let (key, value) = match r.when_tag.split_once('=') {
                Some((k, v)) => (k.trim().to_owned(), Some(v.trim().to_owned())),
                None => (r.when_tag.trim().to_owned(), None),
            };
            anyhow::ensure!(
                !key.is_empty(),
                "{at}.when_tag: '{}' names no tag; write KEY=VALUE (env=prod) or KEY",
                r.when_tag
            );
            anyhow::ensure!(
                !r.commands.is_empty(),
                "{at}.commands: name at least one command it applies to"
            );
            for act in &r.commands {
                check_rule(&at, *act, r.rule)?;
            }
            p.rules.push(TagRule {
                name,
                key,
                value,
                commands: r.commands,
                rule: r.rule,
            });
        }
        Ok(p)
    }
}

fn check_rule(at: &str, act: Act, rule: Rule) -> anyhow::Result<()> {
    anyhow::ensure!(
        rule != Rule::Approve || act.has_plan(),
        "{at}: '{act}' makes no plan to approve; use allow or deny"
    );
    Ok(())
}

/// What a command asks the policy: the act, the tags of what it acts on (the project's, and
/// each planned resource's), whether it only plans, and the plan it made.
pub struct Ask<'a> {
    pub act: Act,
    pub tags: Vec<&'a BTreeMap<String, String>>,
    pub dry_run: bool,
    /// The digest of the plan the daemon made just now (none for scan and refresh).
    pub plan: Option<PlanDigest>,
}

impl Ask<'_> {
    /// A command that makes no plan (scan, refresh): only `allow` or `deny` apply.
    pub fn unplanned(act: Act) -> Self {
        Self {
            act,
            tags: Vec::new(),
            dry_run: false,
            plan: None,
        }
    }
}

impl Policy {
    /// The rule that applies and where it comes from (`policy.destroy`, `policy.rules.NAME`).
    fn rule_for(&self, act: Act, tags: &[&BTreeMap<String, String>]) -> (Rule, String) {
        match self.rules.iter().find(|r| r.matches(act, tags)) {
            Some(r) => (r.rule, format!("policy.rules.{}", r.name)),
            None => (self.command_rule(act), format!("policy.{act}")),
        }
    }

    fn command_rule(&self, act: Act) -> Rule {
        self.commands
            .get(&act)
            .copied()
            .unwrap_or(act.default_rule())
    }

    /// Lets `ask` through or says why not. A dry run needs no approval (it is how a plan is
    /// got) but is denied like the command itself. `override_policy` lets a tag rule's denial
    /// through, never a command denied outright, and never skips the approval of a plan.
    /// `resumed`: the request was approved before (a daemon resuming it after a crash re-plans,
    /// and what is left of the plan differs from what was approved).
    pub fn authorize(
        &self,
        ask: &Ask<'_>,
        approval: &Approval,
        resumed: Option<&Authorization>,
    ) -> Result<Authorization, Refused> {
        let (mut rule, mut source) = self.rule_for(ask.act, &ask.tags);
        let mut granted = Authorization {
            plan_digest: approval.plan_digest.clone(),
            override_policy: approval.override_policy,
            rule: Some(source.clone()),
        };
        if rule == Rule::Deny && approval.override_policy && source.starts_with("policy.rules.") {
            // Overridden: what the command needs without the rule (recorded with the rule).
            granted.rule = Some(format!("{source} (overridden)"));
            rule = self.command_rule(ask.act);
            source = format!("policy.{}", ask.act);
        }
        match rule {
            Rule::Allow => Ok(granted),
            Rule::Deny => Err(Refused {
                code: ErrorCode::PolicyDenied,
                message: if source.starts_with("policy.rules.") {
                    format!(
                        "{} is denied by {source} of the daemon's policy; nothing was done. Send it with override_policy (--override-policy) to run it anyway: that is recorded in the audit trail",
                        ask.act
                    )
                } else {
                    format!(
                        "{} is denied by {source} of the daemon's policy (pockitect.toml); nothing was done",
                        ask.act
                    )
                },
                authorization: granted,
            }),
            Rule::Approve if ask.dry_run => Ok(granted),
            Rule::Approve => {
                if let Some(before) = resumed {
                    return Ok(before.clone());
                }
                let Some(made) = &ask.plan else {
                    return Ok(granted);
                };
                match &approval.plan_digest {
                    None => Err(Refused {
                        code: ErrorCode::ApprovalRequired,
                        message: format!(
                            "{} needs the digest of the plan you confirmed ({source} = approve); nothing was done. Get the plan with a dry run (its plan_digest is {}), check it, and send the command again with approval.plan_digest; 'pockitect' does both when you confirm",
                            ask.act, made
                        ),
                        authorization: granted,
                    }),
                    Some(sent) if sent != made => Err(Refused {
                        code: ErrorCode::PlanChanged,
                        message: format!(
                            "the plan changed since it was confirmed (confirmed {}, now {}): the resources changed in the meantime, so nothing was done; look at the new plan and confirm it",
                            sent.short(),
                            made.short()
                        ),
                        authorization: granted,
                    }),
                    Some(_) => {
                        granted.plan_digest = Some(made.clone());
                        Ok(granted)
                    }
                }
            }
        }
    }
}

/// A command the policy does not let through, with how it was judged.
#[derive(Debug)]
pub struct Refused {
    pub code: ErrorCode,
    pub message: String,
    pub authorization: Authorization,
}

impl From<Refused> for HandlerError {
    fn from(r: Refused) -> Self {
        HandlerError::new(r.code, r.message)
    }
}

/// Asks the daemon's policy whether the request of `events` may do `ask`, and records the
/// judgement for its audit entry (and for a daemon that resumes it: a request approved once is
/// not asked again for the rest of its plan).
pub async fn authorize(
    daemon: &crate::Daemon,
    events: &crate::events::Events,
    ask: Ask<'_>,
) -> Result<(), HandlerError> {
    let rid = events.request_id();
    let before = if ask.dry_run {
        None
    } else {
        daemon.bus.authorization(rid).await.map_err(|e| {
            HandlerError::new(
                ErrorCode::Internal,
                format!("read the request's approval from Redis: {e}"),
            )
        })?
    };
    let judged = daemon
        .settings
        .policy
        .authorize(&ask, events.approval(), before.as_ref());
    let record = match &judged {
        Ok(a) => a,
        Err(r) => &r.authorization,
    };
    let stored = daemon.bus.set_authorization(rid, record).await;
    match judged {
        Ok(_) => {
            // Acting without the record would let a resumed copy be refused half-way.
            stored.map_err(|e| {
                HandlerError::new(
                    ErrorCode::Internal,
                    format!("record the request's approval in Redis: {e}; nothing was done, send it again"),
                )
            })?;
            Ok(())
        }
        Err(refused) => {
            tracing::warn!(request_id = %rid, act = %ask.act, code = %refused.code, "refused by policy");
            Err(refused.into())
        }
    }
}

/// True when the policy wants a plan's digest for `act` on what has `tags` (a deploy plans only
/// then: planning costs AWS reads).
pub fn needs_approval(policy: &Policy, act: Act, tags: &[&BTreeMap<String, String>]) -> bool {
    policy.rule_for(act, tags).0 == Rule::Approve
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml_text: &str) -> anyhow::Result<Policy> {
        #[derive(Deserialize)]
        struct Doc {
            policy: PolicyFile,
        }
        let d: Doc = toml::from_str(toml_text)?;
        Policy::try_from(d.policy)
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn ask<'a>(act: Act, t: Vec<&'a BTreeMap<String, String>>, plan: &str) -> Ask<'a> {
        Ask {
            act,
            tags: t,
            dry_run: false,
            plan: Some(PlanDigest::of([plan.to_owned()])),
        }
    }

    fn approved(plan: &str) -> Approval {
        Approval {
            plan_digest: Some(PlanDigest::of([plan.to_owned()])),
            override_policy: false,
        }
    }

    #[test]
    fn destructive_commands_need_the_confirmed_plan_by_default() {
        let p = Policy::default();
        let none = Approval::default();
        let err = p
            .authorize(&ask(Act::Destroy, vec![], "a"), &none, None)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ApprovalRequired);
        assert!(
            err.message.contains("policy.destroy = approve"),
            "{}",
            err.message
        );
        let err = p
            .authorize(&ask(Act::Terminate, vec![], "a"), &approved("b"), None)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::PlanChanged);
        let ok = p
            .authorize(&ask(Act::PowerStop, vec![], "a"), &approved("a"), None)
            .unwrap();
        assert_eq!(ok.rule.as_deref(), Some("policy.power_stop"));
        // Starting and deploying need nothing by default; a dry run never needs approval.
        p.authorize(&ask(Act::PowerStart, vec![], "a"), &none, None)
            .unwrap();
        p.authorize(&ask(Act::Deploy, vec![], "a"), &none, None)
            .unwrap();
        let mut dry = ask(Act::Destroy, vec![], "a");
        dry.dry_run = true;
        p.authorize(&dry, &none, None).unwrap();
        // A request approved before it was resumed stays approved.
        let before = Authorization::default();
        p.authorize(&ask(Act::Destroy, vec![], "rest"), &none, Some(&before))
            .unwrap();
    }

    #[test]
    fn a_tag_rule_denies_by_name_unless_overridden() {
        let p = policy(
            r#"
[policy]
destroy = "approve"
[[policy.rules]]
name = "protect-prod"
when_tag = "env=prod"
commands = ["destroy", "terminate"]
rule = "deny"
"#,
        )
        .unwrap();
        let prod = tags(&[("env", "prod")]);
        let dev = tags(&[("env", "dev")]);
        let err = p
            .authorize(&ask(Act::Destroy, vec![&prod], "a"), &approved("a"), None)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::PolicyDenied);
        assert!(
            err.message.contains("policy.rules.protect-prod"),
            "{}",
            err.message
        );
        // The rule does not touch other tags; the override lets it through, still approved.
        p.authorize(&ask(Act::Destroy, vec![&dev], "a"), &approved("a"), None)
            .unwrap();
        let mut over = approved("a");
        over.override_policy = true;
        let ok = p
            .authorize(&ask(Act::Destroy, vec![&prod], "a"), &over, None)
            .unwrap();
        assert!(ok.override_policy);
        over.plan_digest = None;
        let err = p
            .authorize(&ask(Act::Destroy, vec![&prod], "a"), &over, None)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ApprovalRequired);
    }

    #[test]
    fn a_command_denied_outright_cannot_be_overridden() {
        let p = policy("[policy]\nterminate = \"deny\"\n").unwrap();
        let mut over = approved("a");
        over.override_policy = true;
        let err = p
            .authorize(&ask(Act::Terminate, vec![], "a"), &over, None)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::PolicyDenied);
        assert!(err.message.contains("policy.terminate"), "{}", err.message);
    }

    #[test]
    fn mistakes_in_the_policy_name_their_place() {
        let err = policy("[policy]\nscan = \"approve\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("policy.scan"), "{err:#}");
        let err = policy("[policy]\ndestory = \"deny\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("destory"), "{err:#}");
        let err = policy(
            "[policy]\n[[policy.rules]]\nwhen_tag = \"=x\"\ncommands = [\"destroy\"]\nrule = \"deny\"\n",
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("policy.rules.rules[0].when_tag"),
            "{err:#}"
        );
        let err = policy("[policy]\ndeploy = \"maybe\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("maybe"), "{err:#}");
    }
}
