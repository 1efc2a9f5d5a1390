//! Live list prices from the AWS Price List Query API (GetProducts, asked in us-east-1 for any
//! region): one question per [`PriceKey`], answered with the on-demand price per unit in USD.
//! The daemon caches what it learns; what is not answered is priced from the bundled table.

use std::collections::BTreeSet;

use aws_sdk_pricing::types::{Filter, FilterType};
use futures::StreamExt;
use pockitect_cost::PriceKey;
use serde_json::Value;

use crate::{Aws, AwsError};

const OPERATION: &str = "pricing:GetProducts";
/// Pages read at most per question: a well-filtered question is answered on the first.
const MAX_PAGES: usize = 5;
/// Questions in flight at once (the API's rate is a few requests a second per account).
const IN_FLIGHT: usize = 4;

/// What the Price List API said about one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The on-demand price per unit, USD.
    Price(f64),
    /// No product matched: not sold there, or not under these attributes.
    NotListed,
    /// Several products matched with different prices: none is chosen.
    Ambiguous(Vec<f64>),
}

/// The answers to [`fetch`]: per key an answer or the error that kept it from one.
#[derive(Debug, Default)]
pub struct Fetched {
    pub answers: Vec<(PriceKey, Answer)>,
    pub failed: Vec<(PriceKey, AwsError)>,
}

impl Fetched {
    /// The prices answered.
    pub fn prices(&self) -> impl Iterator<Item = (&PriceKey, f64)> {
        self.answers.iter().filter_map(|(k, a)| match a {
            Answer::Price(usd) => Some((k, *usd)),
            _ => None,
        })
    }
}

/// Asks the Price List API for every key, a few at a time. When the first question fails (the
/// API unreachable, the credentials refused), the rest are not asked: they would fail alike.
pub async fn fetch(aws: &Aws, keys: &BTreeSet<PriceKey>) -> Fetched {
    let client = aws.pricing();
    let mut out = Fetched::default();
    let mut keys = keys.iter();
    // One question first: an unreachable endpoint costs one timeout, not one per key.
    if let Some(first) = keys.next() {
        match ask(&client, first).await {
            Ok(a) => out.answers.push((first.clone(), a)),
            Err(e) => {
                out.failed.push((first.clone(), e));
                return out;
            }
        }
    }
    // Owned keys and a client per question: futures that borrow across `buffer_unordered`
    // are not `Send` for every lifetime, and the daemon runs handlers on spawned tasks.
    let mut rest = futures::stream::iter(keys.cloned().collect::<Vec<_>>())
        .map(|k| {
            let client = client.clone();
            async move {
                let r = ask(&client, &k).await;
                (k, r)
            }
        })
        .buffer_unordered(IN_FLIGHT);
    while let Some((k, r)) = rest.next().await {
        match r {
            Ok(a) => out.answers.push((k, a)),
            Err(e) => out.failed.push((k, e)),
        }
    }
    out
}

/// One GetProducts question, paginated.
async fn ask(client: &aws_sdk_pricing::Client, key: &PriceKey) -> Result<Answer, AwsError> {
    let q = Question::of(key);
    let filters: Vec<Filter> = q
        .filters
        .iter()
        .map(|(field, value)| {
            Filter::builder()
                .r#type(FilterType::TermMatch)
                .field(*field)
                .value(value.clone())
                .build()
                .map_err(|e| AwsError::Api {
                    operation: OPERATION,
                    region: "us-east-1".into(),
                    code: "request".into(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let mut prices: Vec<f64> = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let out = client
            .get_products()
            .service_code(q.service)
            .format_version("aws_v1")
            .set_filters(Some(filters.clone()))
            .max_results(100)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(OPERATION, "us-east-1", e))?;
        for doc in out.price_list() {
            prices.extend(on_demand_prices(doc, q.unit));
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    prices.sort_by(f64::total_cmp);
    prices.dedup();
    Ok(match prices.as_slice() {
        [] => Answer::NotListed,
        [one] => Answer::Price(*one),
        _ => Answer::Ambiguous(prices),
    })
}

/// The GetProducts question for a key: the service, TERM_MATCH filters, and the unit of the
/// price dimension wanted (a NAT gateway's product also lists a per-GB dimension).
struct Question {
    service: &'static str,
    filters: Vec<(&'static str, String)>,
    unit: &'static str,
}

impl Question {
    fn of(key: &PriceKey) -> Question {
        let region = ("regionCode", key.region().to_owned());
        let ec2 = |os: &str, ty: &str| Question {
            service: "AmazonEC2",
            filters: vec![
                region.clone(),
                ("instanceType", ty.to_owned()),
                ("operatingSystem", os.to_owned()),
                ("tenancy", "Shared".to_owned()),
                ("preInstalledSw", "NA".to_owned()),
                ("capacitystatus", "Used".to_owned()),
                ("licenseModel", "No License required".to_owned()),
            ],
            unit: "Hrs",
        };
        match key {
            PriceKey::Ec2Linux { instance_type, .. } => ec2("Linux", instance_type),
            PriceKey::Ec2Windows { instance_type, .. } => ec2("Windows", instance_type),
            PriceKey::Rds { engine, class, .. } => Question {
                service: "AmazonRDS",
                filters: vec![
                    region,
                    ("instanceType", class.clone()),
                    ("databaseEngine", rds_engine(engine).to_owned()),
                    ("deploymentOption", "Single-AZ".to_owned()),
                ],
                unit: "Hrs",
            },
            PriceKey::Ebs { volume_type, .. } => Question {
                service: "AmazonEC2",
                filters: vec![
                    region,
                    ("productFamily", "Storage".to_owned()),
                    ("volumeApiName", volume_type.clone()),
                ],
                unit: "GB-Mo",
            },
            PriceKey::RdsStorage { storage_type, .. } => Question {
                service: "AmazonRDS",
                filters: vec![
                    region,
                    ("productFamily", "Database Storage".to_owned()),
                    ("volumeType", rds_volume_type(storage_type).to_owned()),
                    ("deploymentOption", "Single-AZ".to_owned()),
                ],
                unit: "GB-Mo",
            },
            PriceKey::NatGateway { .. } => Question {
                service: "AmazonEC2",
                filters: vec![region, ("productFamily", "NAT Gateway".to_owned())],
                unit: "Hrs",
            },
            PriceKey::S3Standard { .. } => Question {
                service: "AmazonS3",
                filters: vec![
                    region,
                    ("storageClass", "General Purpose".to_owned()),
                    ("volumeType", "Standard".to_owned()),
                ],
                unit: "GB-Mo",
            },
        }
    }
}

/// The Price List's name of an RDS engine.
fn rds_engine(engine: &str) -> &str {
    match engine {
        "postgres" => "PostgreSQL",
        "mysql" => "MySQL",
        "mariadb" => "MariaDB",
        other => other,
    }
}

/// The Price List's name of an RDS storage type.
fn rds_volume_type(storage: &str) -> &str {
    match storage {
        "gp2" => "General Purpose",
        "gp3" => "General Purpose-GP3",
        "io1" => "Provisioned IOPS",
        other => other,
    }
}

/// The positive on-demand prices in `unit` of one Price List document (a JSON string): the
/// first tier only (`beginRange` 0) where the price is tiered.
fn on_demand_prices(doc: &str, unit: &str) -> Vec<f64> {
    let Ok(v) = serde_json::from_str::<Value>(doc) else {
        return Vec::new();
    };
    let Some(terms) = v.pointer("/terms/OnDemand").and_then(Value::as_object) else {
        return Vec::new();
    };
    terms
        .values()
        .filter_map(|t| t.get("priceDimensions").and_then(Value::as_object))
        .flat_map(|dims| dims.values())
        .filter(|d| d.get("unit").and_then(Value::as_str) == Some(unit))
        .filter(|d| {
            d.get("beginRange")
                .and_then(Value::as_str)
                .is_none_or(|b| b == "0")
        })
        .filter_map(|d| d.pointer("/pricePerUnit/USD").and_then(Value::as_str))
        .filter_map(|usd| usd.parse::<f64>().ok())
        .filter(|usd| usd.is_finite() && *usd > 0.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Price List document as GetProducts returns it (trimmed to what is read).
    const NAT: &str = r#"{"product":{"productFamily":"NAT Gateway","attributes":{"regionCode":"us-east-1","usagetype":"NatGateway-Hours"}},
        "terms":{"OnDemand":{"X.JRTCKXETXF":{"priceDimensions":{
            "X.JRTCKXETXF.6YS6EN2CT7":{"unit":"Hrs","beginRange":"0","endRange":"Inf","pricePerUnit":{"USD":"0.0450000000"}}}}},
         "Reserved":{"Y":{"priceDimensions":{"Y.Z":{"unit":"Hrs","pricePerUnit":{"USD":"0.0100000000"}}}}}}}"#;
    const S3: &str = r#"{"terms":{"OnDemand":{"A":{"priceDimensions":{
            "A.1":{"unit":"GB-Mo","beginRange":"0","endRange":"51200","pricePerUnit":{"USD":"0.0230000000"}},
            "A.2":{"unit":"GB-Mo","beginRange":"51200","endRange":"512000","pricePerUnit":{"USD":"0.0220000000"}}}}}}}"#;

    #[test]
    fn reads_the_on_demand_price_of_the_unit_asked_and_the_first_tier() {
        assert_eq!(on_demand_prices(NAT, "Hrs"), vec![0.045]);
        assert_eq!(on_demand_prices(NAT, "GB"), Vec::<f64>::new());
        assert_eq!(on_demand_prices(S3, "GB-Mo"), vec![0.023]);
        assert_eq!(on_demand_prices("not json", "Hrs"), Vec::<f64>::new());
    }

    #[test]
    fn questions_name_the_service_and_the_attributes_of_the_product() {
        let q = Question::of(&PriceKey::Rds {
            region: "eu-west-1".into(),
            engine: "postgres".into(),
            class: "db.t3.micro".into(),
        });
        assert_eq!(q.service, "AmazonRDS");
        assert!(q.filters.contains(&("databaseEngine", "PostgreSQL".into())));
        assert!(q.filters.contains(&("regionCode", "eu-west-1".into())));
        let q = Question::of(&PriceKey::Ec2Linux {
            region: "us-east-1".into(),
            instance_type: "t3.micro".into(),
        });
        assert!(q.filters.contains(&("operatingSystem", "Linux".into())));
        assert_eq!(q.unit, "Hrs");
    }
}
