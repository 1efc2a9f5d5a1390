//! Many accounts from one set of credentials, against moto: assumed-role credentials act in the
//! role's account there, and moto has Organizations.

use pockitect_aws::accounts::{AccountSpec, parse_list, resolve};
use pockitect_testkit::MotoServer;

use crate::aws_for;

#[tokio::test]
async fn roles_profiles_and_an_organization_become_accounts_and_the_unreachable_are_reported() {
    let moto = MotoServer::start();
    let base = aws_for(&moto).await;
    let own = base.identity().await.unwrap().account;

    // An Organization managed by the base account, with two members.
    let org = base.organizations();
    org.create_organization().send().await.unwrap();
    for (name, email) in [("dev", "dev@example.com"), ("prod", "prod@example.com")] {
        org.create_account()
            .account_name(name)
            .email(email)
            .send()
            .await
            .unwrap();
    }

    let specs = parse_list(
        "arn:aws:iam::111111111111:role/Audit, no-such-profile-here, \
         arn:aws:iam::222222222222:role/Audit",
    )
    .unwrap();
    let (accounts, unreachable) = resolve(&base, &specs).await;
    let ids: Vec<&str> = accounts
        .iter()
        .map(|a| a.identity.account.as_str())
        .collect();
    assert_eq!(ids, ["111111111111", "222222222222"]);
    assert!(
        accounts[0]
            .identity
            .arn
            .contains("assumed-role/Audit/pockitect")
    );
    assert_eq!(unreachable.len(), 1, "{unreachable:?}");
    assert_eq!(unreachable[0].label, "profile 'no-such-profile-here'");

    // Each account's clients act in that account: a VPC made through one is its own.
    let vpc = accounts[1]
        .aws
        .ec2("us-east-1")
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .unwrap();
    assert_eq!(vpc.vpc().and_then(|v| v.owner_id()), Some("222222222222"));

    // org:ROLE: the management account with its own credentials, every member through the role.
    let (accounts, unreachable) = resolve(
        &base,
        &[AccountSpec::Org("OrganizationAccountAccessRole".into())],
    )
    .await;
    assert!(unreachable.is_empty(), "{unreachable:?}");
    assert_eq!(accounts.len(), 3, "{accounts:?}");
    assert!(accounts.iter().any(|a| a.identity.account == own));
    for a in accounts.iter().filter(|a| a.identity.account != own) {
        assert!(
            a.identity.arn.contains("OrganizationAccountAccessRole"),
            "{a:?}"
        );
        assert!(a.label.starts_with("org:OrganizationAccountAccessRole → "));
    }

    // No --accounts: the credentials' own account.
    let (accounts, _) = resolve(&base, &[]).await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].identity.account, own);
}
