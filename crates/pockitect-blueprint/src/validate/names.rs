//! Naming rules of the AWS services a blueprint touches. Each check returns every problem it
//! finds as a message fragment that follows `"<path>: "`.

use crate::model::DbEngine;

/// Instance sizes EC2 uses after the family (`t3.<size>`), besides `<n>xlarge` and `metal-<n>xl`.
const SIZES: &[&str] = &[
    "nano", "micro", "small", "medium", "large", "xlarge", "metal",
];

/// Problems with an EC2 instance type such as `t3.micro`, or `None` when it has the right shape.
pub(crate) fn instance_type_problem(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    if lower != value && instance_type_problem(&lower).is_none() {
        return Some(format!("'{value}' must be lowercase: use '{lower}'"));
    }
    let Some((family, size)) = value.split_once('.') else {
        return Some(format!(
            "'{value}' is not an instance type (family.size, such as 't3.micro')"
        ));
    };
    let family_ok = family.starts_with(|c: char| c.is_ascii_lowercase())
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && family.bytes().any(|b| b.is_ascii_digit())
        && !family.ends_with('-');
    if !family_ok {
        return Some(format!(
            "'{value}' is not an instance type: '{family}' is not an instance family (such as \
             't3', 'm7i', 'c7g')"
        ));
    }
    if !is_size(size) {
        return Some(format!(
            "'{value}' is not an instance type: '{size}' is not a size (nano, micro, small, \
             medium, large, xlarge, 2xlarge … 48xlarge, metal)"
        ));
    }
    None
}

fn is_size(size: &str) -> bool {
    if SIZES.contains(&size) {
        return true;
    }
    let digits_then = |s: &str, suffix: &str| {
        s.strip_suffix(suffix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    digits_then(size, "xlarge")
        || size
            .strip_prefix("metal-")
            .is_some_and(|r| digits_then(r, "xl"))
}

/// Problems with an RDS instance class such as `db.t3.micro`.
pub(crate) fn db_class_problem(value: &str) -> Option<String> {
    match value.strip_prefix("db.") {
        None if instance_type_problem(value).is_none() => Some(format!(
            "'{value}' is not a DB instance class: RDS classes start with 'db.' (use 'db.{value}')"
        )),
        None => Some(format!(
            "'{value}' is not a DB instance class (db.family.size, such as 'db.t3.micro')"
        )),
        Some(rest) => instance_type_problem(rest).map(|_| {
            format!("'{value}' is not a DB instance class (db.family.size, such as 'db.t3.micro')")
        }),
    }
}

/// Problems with an S3 general purpose bucket name (AWS bucket naming rules).
pub(crate) fn bucket_name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let len = name.chars().count();
    if !(3..=63).contains(&len) {
        out.push(format!(
            "'{name}' is {len} characters; bucket names have 3 to 63"
        ));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        out.push(format!(
            "'{name}' has uppercase letters; bucket names are lowercase (use '{}')",
            name.to_ascii_lowercase()
        ));
    }
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        .collect();
    if !bad.is_empty() {
        out.push(format!(
            "'{name}' contains '{bad}'; bucket names use only lowercase letters, digits, dots \
             and hyphens"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_none_or(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(edge_ok(name.chars().next()) && edge_ok(name.chars().last())) {
        out.push(format!(
            "'{name}' must begin and end with a lowercase letter or a digit"
        ));
    }
    if name.contains("..") {
        out.push(format!("'{name}' has two adjacent dots"));
    }
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        out.push(format!(
            "'{name}' is formatted as an IP address, which S3 forbids"
        ));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            out.push(format!(
                "'{name}' starts with '{prefix}', a prefix S3 reserves"
            ));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            out.push(format!(
                "'{name}' ends with '{suffix}', a suffix S3 reserves"
            ));
        }
    }
    out
}

/// Problems with a domain name for an ACM certificate (optionally `*.` wildcard).
pub(crate) fn domain_problems(domain: &str) -> Vec<String> {
    let mut out = Vec::new();
    if domain.ends_with('.') {
        out.push(format!(
            "'{domain}' ends with a dot; write it without (use '{}')",
            domain.trim_end_matches('.')
        ));
        return out;
    }
    if !domain.is_ascii() {
        out.push(format!(
            "'{domain}' has non-ASCII characters; write an internationalised name in its \
             punycode form (xn--…)"
        ));
        return out;
    }
    if domain.len() > 64 {
        out.push(format!(
            "'{domain}' is {} characters; ACM allows at most 64 for a certificate's domain",
            domain.len()
        ));
    }
    let host = domain.strip_prefix("*.").unwrap_or(domain);
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        out.push(format!(
            "'{domain}' is not a fully qualified domain name (such as 'www.example.com')"
        ));
    }
    for label in &labels {
        if label.is_empty() {
            out.push(format!(
                "'{domain}' has an empty label (two dots in a row, or a leading dot)"
            ));
        } else if label.contains('*') {
            out.push(format!(
                "'{domain}' has a '*' that is not the whole leftmost label ('*.example.com')"
            ));
        } else if label.len() > 63 {
            out.push(format!("'{domain}' has a label longer than 63 characters"));
        } else if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            out.push(format!(
                "'{domain}' has '{label}'; labels use only letters, digits and hyphens"
            ));
        } else if label.starts_with('-') || label.ends_with('-') {
            out.push(format!(
                "'{domain}' has '{label}', which begins or ends with a hyphen"
            ));
        }
    }
    if labels.len() >= 2
        && labels
            .last()
            .is_some_and(|tld| !tld.is_empty() && tld.bytes().all(|b| b.is_ascii_digit()))
    {
        out.push(format!(
            "'{domain}' looks like an IP address; a certificate needs a domain name"
        ));
    }
    out
}

/// True for a 12-digit AWS account id.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// Why `value` names no account (`project.account`), or `None`: a 12-digit account id or a
/// profile name (the characters `--accounts` accepts in one: letters, digits, `-_.@+`).
pub(crate) fn account_problem(value: &str) -> Option<String> {
    let shown: String = value
        .chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if value.trim().is_empty() {
        return Some(
            "is empty: give a 12-digit account id or a profile name of the daemon's --accounts, or remove it for the daemon's own account"
                .into(),
        );
    }
    if is_account_id(value) {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "'{shown}' has {} digits: an account id has 12 (leading zeros included)",
            value.len()
        ));
    }
    let profile = value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@+".contains(c));
    (!profile).then(|| {
        format!(
            "'{shown}' is neither a 12-digit account id nor a profile name (letters, digits and -_.@+, at most 64): write one of the daemon's --accounts"
        )
    })
}

/// Why `value` is not an email address a budget alert can go to, or `None`. A shape check
/// (`name@host.tld`, no spaces, at most 254 characters), not a deliverability test.
pub(crate) fn email_problem(value: &str) -> Option<String> {
    let shown = value.escape_debug();
    let problem = |why: &str| Some(format!("'{shown}' is not an email address: {why}"));
    if value.trim().is_empty() {
        return Some("is empty: set an address such as 'ops@example.com', or remove it".into());
    }
    if value.len() > 254 {
        return problem("it is longer than 254 characters");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return problem("remove the spaces");
    }
    let Some((local, host)) = value.rsplit_once('@') else {
        return problem("write it as name@example.com");
    };
    if local.is_empty() || local.contains('@') {
        return problem("write it as name@example.com");
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return problem(&format!(
            "'{}' is not a domain (such as 'example.com')",
            host.escape_debug()
        ));
    }
    None
}

/// Problems with an IAM role name: 1 to 64 of letters, digits and `+=,.@_-`.
pub(crate) fn role_name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let len = name.chars().count();
    if len == 0 || len > 64 {
        out.push(format!(
            "'{name}' is {len} characters; IAM role names have 1 to 64"
        ));
    }
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
        .collect();
    if !bad.is_empty() {
        out.push(format!(
            "'{name}' contains '{bad}'; IAM role names use only letters, digits and +=,.@_-"
        ));
    }
    out
}

/// Problems with an EC2 key pair name: up to 255 printable ASCII characters.
pub(crate) fn key_pair_name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.len() > 255 {
        out.push(format!(
            "is {} characters; key pair names have at most 255",
            name.len()
        ));
    }
    if name.chars().any(|c| !c.is_ascii() || c.is_ascii_control()) {
        out.push(format!(
            "'{}' has non-ASCII or control characters; key pair names are printable ASCII",
            name.escape_debug()
        ));
    }
    out
}

/// Security group rule descriptions: up to 255 of letters, digits, spaces and `._-:/()#,@[]+=&;{}!$*`.
pub(crate) fn rule_description_problems(description: &str) -> Vec<String> {
    let mut out = Vec::new();
    if description.chars().count() > 255 {
        out.push("is longer than 255 characters, the EC2 limit".to_owned());
    }
    let mut bad: Vec<char> = description
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(*c)))
        .collect();
    bad.dedup();
    if !bad.is_empty() {
        let bad: String = bad.into_iter().collect();
        out.push(format!(
            "'{description}' contains '{bad}', which EC2 does not allow in rule descriptions \
             (letters, digits, spaces and ._-:/()#,@[]+=&;{{}}!$* are allowed)",
        ));
    }
    out
}

/// The longest master user name RDS accepts for an engine (CreateDBInstance: "1 to 16 letters,
/// numbers, or underscores" for the engines Pockitect deploys).
pub(crate) fn max_db_username_len(_engine: &DbEngine) -> usize {
    16
}

/// Names RDS refuses as master user name: reserved by RDS itself or by the engine.
fn reserved_db_username(engine: &DbEngine, name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if ["rdsadmin", "rdsrepladmin", "rds_superuser", "rdsproxyadmin"].contains(&lower.as_str()) {
        return true;
    }
    match engine {
        DbEngine::Postgres => {
            lower.starts_with("pg_") || POSTGRES_RESERVED.binary_search(&lower.as_str()).is_ok()
        }
        DbEngine::Mysql | DbEngine::Mariadb => {
            MYSQL_RESERVED.binary_search(&lower.as_str()).is_ok()
        }
        DbEngine::Other(_) => false,
    }
}

/// Problems with an RDS master user name for `engine`.
pub(crate) fn db_username_problems(engine: &DbEngine, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let max = max_db_username_len(engine);
    let len = name.chars().count();
    if len > max {
        let shorter: String = name.chars().take(max).collect::<String>();
        out.push(format!(
            "'{name}' is {len} characters; RDS {engine} master user names have at most \
             {max}: shorten it (for example '{}')",
            shorter.trim_end_matches('_')
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.push(format!("'{name}' must start with a letter"));
    }
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        .collect();
    if !bad.is_empty() {
        out.push(format!(
            "'{name}' contains '{bad}'; master user names use only letters, digits and underscores"
        ));
    }
    if reserved_db_username(engine, name) {
        let hint = match engine {
            DbEngine::Postgres => "'app_admin' or 'postgres'",
            _ => "'app_admin'",
        };
        out.push(format!(
            "'{name}' is a reserved word for RDS {engine}; choose another master user name such \
             as {hint}"
        ));
    }
    out
}

/// Checks a database master password against RDS rules for `engine` (it is never stored in the
/// blueprint; use this where it is asked for or read from the keyring).
pub fn check_db_password(engine: &DbEngine, password: &str) -> Result<(), String> {
    let (min, max) = match engine {
        DbEngine::Postgres => (8, 128),
        DbEngine::Mysql | DbEngine::Mariadb => (8, 41),
        DbEngine::Other(_) => (8, 128),
    };
    let mut problems = Vec::new();
    let len = password.chars().count();
    if !(min..=max).contains(&len) {
        problems.push(format!(
            "the password is {len} characters; RDS {engine} needs {min} to {max}"
        ));
    }
    if password
        .chars()
        .any(|c| !c.is_ascii_graphic() || matches!(c, '/' | '"' | '@'))
    {
        problems.push(
            "the password may use printable ASCII except '/', '\"', '@' and spaces".to_owned(),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The candidate closest to `value` by edit distance, when close enough to be a likely typo.
pub(crate) fn closest<'a>(
    value: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (value.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(value, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// PostgreSQL reserved key words (SQL Key Words appendix, "reserved" column), plus role names
/// PostgreSQL refuses (`public`, `none`) and `admin`, which RDS for PostgreSQL reserves. Sorted.
const POSTGRES_RESERVED: &[&str] = &[
    "admin",
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "none",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "public",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "system_user",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// MySQL reserved words a user might plausibly pick as a name. Sorted.
const MYSQL_RESERVED: &[&str] = &[
    "accessible",
    "add",
    "all",
    "alter",
    "and",
    "as",
    "asc",
    "before",
    "between",
    "both",
    "by",
    "call",
    "cascade",
    "case",
    "change",
    "check",
    "column",
    "condition",
    "constraint",
    "create",
    "cross",
    "database",
    "databases",
    "default",
    "delete",
    "desc",
    "describe",
    "distinct",
    "drop",
    "each",
    "else",
    "exists",
    "explain",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "if",
    "in",
    "index",
    "insert",
    "interval",
    "into",
    "is",
    "join",
    "key",
    "keys",
    "kill",
    "like",
    "limit",
    "lock",
    "match",
    "not",
    "null",
    "on",
    "option",
    "or",
    "order",
    "outer",
    "primary",
    "procedure",
    "read",
    "references",
    "rename",
    "replace",
    "require",
    "restrict",
    "return",
    "revoke",
    "right",
    "schema",
    "select",
    "set",
    "show",
    "table",
    "then",
    "to",
    "trigger",
    "true",
    "union",
    "unique",
    "update",
    "usage",
    "use",
    "using",
    "values",
    "when",
    "where",
    "while",
    "with",
    "write",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_lists_are_sorted_for_binary_search() {
        assert!(POSTGRES_RESERVED.windows(2).all(|w| w[0] < w[1]));
        assert!(MYSQL_RESERVED.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn instance_types() {
        for ok in [
            "t3.micro",
            "m7i-flex.large",
            "c7gn.16xlarge",
            "u-6tb1.metal",
            "m7i.metal-24xl",
            "mac2-m2pro.metal",
        ] {
            assert_eq!(instance_type_problem(ok), None, "{ok}");
        }
        for bad in [
            "t3micro", "t3.mirco", "T3.micro", ".micro", "t.micro", "t3.", "3t.micro",
        ] {
            assert!(instance_type_problem(bad).is_some(), "{bad}");
        }
        assert!(
            instance_type_problem("T3.micro")
                .unwrap()
                .contains("use 't3.micro'")
        );
    }

    #[test]
    fn emails() {
        for ok in [
            "ops@example.com",
            "a.b+budget@mail.example.co.uk",
            "x@xn--bcher-kva.de",
        ] {
            assert_eq!(email_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "ops@@example.com",
            "ops @example.com",
            "ops@exa_mple.com",
            "ops@example..com",
            "ops@-example.com",
        ] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
        assert!(email_problem("ops").unwrap().contains("name@example.com"));
    }

    #[test]
    fn db_classes() {
        assert_eq!(db_class_problem("db.t3.micro"), None);
        assert_eq!(db_class_problem("db.r6g.xlarge"), None);
        assert!(
            db_class_problem("t3.micro")
                .unwrap()
                .contains("use 'db.t3.micro'")
        );
        assert!(db_class_problem("db.t3").is_some());
    }

    #[test]
    fn buckets() {
        assert!(bucket_name_problems("brendens-blog-assets").is_empty());
        assert!(bucket_name_problems("my.bucket.name").is_empty());
        assert_eq!(bucket_name_problems("ab").len(), 1);
        assert!(!bucket_name_problems("My_Bucket").is_empty());
        assert!(!bucket_name_problems("-bucket").is_empty());
        assert!(!bucket_name_problems("a..b").is_empty());
        assert!(!bucket_name_problems("192.168.5.4").is_empty());
        assert!(!bucket_name_problems("xn--bucket").is_empty());
        assert!(!bucket_name_problems("bucket-s3alias").is_empty());
        assert!(!bucket_name_problems(&"a".repeat(64)).is_empty());
    }

    #[test]
    fn domains() {
        assert!(domain_problems("api.example.com").is_empty());
        assert!(domain_problems("*.example.com").is_empty());
        assert!(!domain_problems("localhost").is_empty());
        assert!(!domain_problems("exa mple.com").is_empty());
        assert!(!domain_problems("-a.example.com").is_empty());
        assert!(!domain_problems("a.*.example.com").is_empty());
        assert!(!domain_problems("1.2.3.4").is_empty());
        assert!(!domain_problems("example.com.").is_empty());
        assert!(!domain_problems("bücher.de").is_empty());
        assert!(!domain_problems(&format!("{}.example.com", "a".repeat(60))).is_empty());
    }

    #[test]
    fn db_usernames() {
        assert!(db_username_problems(&DbEngine::Postgres, "app_admin").is_empty());
        assert!(db_username_problems(&DbEngine::Postgres, "postgres").is_empty());
        assert!(db_username_problems(&DbEngine::Mysql, "admin").is_empty());
        assert!(!db_username_problems(&DbEngine::Postgres, "admin").is_empty());
        assert!(!db_username_problems(&DbEngine::Postgres, "pg_owner").is_empty());
        assert!(!db_username_problems(&DbEngine::Mysql, "rdsadmin").is_empty());
        assert!(!db_username_problems(&DbEngine::Mysql, "select").is_empty());
        assert!(!db_username_problems(&DbEngine::Mysql, "1admin").is_empty());
        assert!(!db_username_problems(&DbEngine::Mysql, "ad-min").is_empty());
        assert!(!db_username_problems(&DbEngine::Mysql, "notification_admin").is_empty());
        assert!(db_username_problems(&DbEngine::Mysql, "api_server_admin").is_empty());
    }

    #[test]
    fn passwords() {
        assert!(check_db_password(&DbEngine::Postgres, "correct-horse-9").is_ok());
        assert!(check_db_password(&DbEngine::Postgres, "short").is_err());
        assert!(check_db_password(&DbEngine::Mysql, &"x".repeat(42)).is_err());
        assert!(check_db_password(&DbEngine::Postgres, "has space in it").is_err());
        assert!(check_db_password(&DbEngine::Postgres, "has@symbol1").is_err());
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("us-east-7", ["us-east-1", "eu-west-1"]),
            Some("us-east-1")
        );
        assert_eq!(closest("mars-1", ["us-east-1", "eu-west-1"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
