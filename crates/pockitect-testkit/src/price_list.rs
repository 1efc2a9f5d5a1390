//! A fake of the AWS Price List Query API's GetProducts, for tests: moto has no pricing API, so
//! this is the one AWS fake the estimate tests need. It serves a catalogue the test gives, in
//! AWS's own shapes (awsJson 1.1, `X-Amz-Target: AWSPriceListService.GetProducts`, a
//! `PriceList` of JSON documents with `product.attributes` and `terms.OnDemand`), and filters
//! it by the request's TERM_MATCH filters the way AWS does, so a wrong filter finds nothing or
//! a decoy. It does not check signatures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use serde_json::{Value, json};

/// One product of the fake catalogue: its service, attributes (`productFamily` among them)
/// and one on-demand price.
#[derive(Debug, Clone)]
pub struct FakeProduct {
    service: String,
    attributes: Vec<(String, String)>,
    unit: String,
    usd: f64,
}

impl FakeProduct {
    pub fn new(service: &str, attributes: &[(&str, &str)], unit: &str, usd: f64) -> Self {
        Self {
            service: service.to_owned(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            unit: unit.to_owned(),
            usd,
        }
    }

    /// An EC2 instance type on Linux, shared tenancy, on demand; with the decoys AWS's
    /// catalogue holds beside it (Windows, RHEL, a capacity reservation, dedicated tenancy) at
    /// other prices, so a query that filters too little is caught.
    pub fn ec2_linux(region: &str, instance_type: &str, usd: f64) -> Vec<Self> {
        let ec2 = |os: &str, tenancy: &str, capacity: &str, usd: f64| {
            Self::new(
                "AmazonEC2",
                &[
                    ("productFamily", "Compute Instance"),
                    ("regionCode", region),
                    ("instanceType", instance_type),
                    ("operatingSystem", os),
                    ("tenancy", tenancy),
                    ("preInstalledSw", "NA"),
                    ("capacitystatus", capacity),
                    ("licenseModel", "No License required"),
                ],
                "Hrs",
                usd,
            )
        };
        vec![
            ec2("Linux", "Shared", "Used", usd),
            ec2("Windows", "Shared", "Used", usd * 1.9),
            ec2("RHEL", "Shared", "Used", usd + 0.06),
            ec2("Linux", "Shared", "UnusedCapacityReservation", usd * 1.01),
            ec2("Linux", "Dedicated", "Used", usd * 1.1),
        ]
    }

    /// An RDS instance class for an engine as the Price List names it (`PostgreSQL`,
    /// `MySQL`…), single-AZ; with its Multi-AZ decoy at twice the price.
    pub fn rds(region: &str, engine: &str, class: &str, usd: f64) -> Vec<Self> {
        let rds = |deployment: &str, usd: f64| {
            Self::new(
                "AmazonRDS",
                &[
                    ("productFamily", "Database Instance"),
                    ("regionCode", region),
                    ("instanceType", class),
                    ("databaseEngine", engine),
                    ("deploymentOption", deployment),
                ],
                "Hrs",
                usd,
            )
        };
        vec![rds("Single-AZ", usd), rds("Multi-AZ", usd * 2.0)]
    }

    /// EBS storage of a volume type (`gp3`…), per GB-month.
    pub fn ebs(region: &str, volume_api_name: &str, usd: f64) -> Vec<Self> {
        vec![Self::new(
            "AmazonEC2",
            &[
                ("productFamily", "Storage"),
                ("regionCode", region),
                ("volumeApiName", volume_api_name),
            ],
            "GB-Mo",
            usd,
        )]
    }

    /// RDS storage as the Price List names its volume type (`General Purpose`…), single-AZ,
    /// per GB-month, for each engine given (AWS lists it per engine).
    pub fn rds_storage(region: &str, volume_type: &str, engines: &[&str], usd: f64) -> Vec<Self> {
        engines
            .iter()
            .flat_map(|engine| {
                ["Single-AZ", "Multi-AZ"].map(|deployment| {
                    Self::new(
                        "AmazonRDS",
                        &[
                            ("productFamily", "Database Storage"),
                            ("regionCode", region),
                            ("volumeType", volume_type),
                            ("databaseEngine", engine),
                            ("deploymentOption", deployment),
                        ],
                        "GB-Mo",
                        if deployment == "Multi-AZ" {
                            usd * 2.0
                        } else {
                            usd
                        },
                    )
                })
            })
            .collect()
    }

    /// A NAT gateway's hours (its per-GB charge is a product of its own with unit `GB`).
    pub fn nat_gateway(region: &str, usd_hour: f64, usd_gb: f64) -> Vec<Self> {
        let nat = |usage: &str, unit: &str, usd: f64| {
            Self::new(
                "AmazonEC2",
                &[
                    ("productFamily", "NAT Gateway"),
                    ("regionCode", region),
                    ("usagetype", usage),
                ],
                unit,
                usd,
            )
        };
        vec![
            nat("NatGateway-Hours", "Hrs", usd_hour),
            nat("NatGateway-Bytes", "GB", usd_gb),
        ]
    }

    fn matches(&self, service: &str, filters: &[(String, String)]) -> bool {
        self.service == service
            && filters.iter().all(|(field, value)| {
                self.attributes
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case(field) && v == value)
            })
    }

    /// The product as a Price List document (aws_v1), with a reserved term that must not be
    /// read as the on-demand price.
    fn document(&self, n: usize) -> String {
        let sku = format!("FAKESKU{n:06}");
        let attributes: serde_json::Map<String, Value> = self
            .attributes
            .iter()
            .filter(|(k, _)| k != "productFamily")
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let family = self
            .attributes
            .iter()
            .find(|(k, _)| k == "productFamily")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        json!({
            "product": {"productFamily": family, "attributes": attributes, "sku": sku},
            "serviceCode": self.service,
            "terms": {
                "OnDemand": {
                    format!("{sku}.JRTCKXETXF"): {
                        "priceDimensions": {
                            format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                                "unit": self.unit,
                                "beginRange": "0",
                                "endRange": "Inf",
                                "pricePerUnit": {"USD": format!("{:.10}", self.usd)},
                                "description": "fake on-demand price"
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z"
                    }
                },
                "Reserved": {
                    format!("{sku}.4NA7Y494T4"): {
                        "priceDimensions": {
                            format!("{sku}.4NA7Y494T4.6YS6EN2CT7"): {
                                "unit": self.unit,
                                "pricePerUnit": {"USD": format!("{:.10}", self.usd * 0.6)}
                            }
                        }
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z"
        })
        .to_string()
    }
}

/// The fake GetProducts endpoint, on a free loopback port until dropped.
#[derive(Debug)]
pub struct FakePriceList {
    endpoint: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakePriceList {
    /// Serves `catalogue`. Panics when it cannot bind a loopback port (a broken test host).
    pub fn start(catalogue: Vec<FakeProduct>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .expect("the loopback interface must be available to tests");
        let addr = listener.local_addr().expect("the fake's bound address");
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let catalogue = Arc::new(catalogue);
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("fake-price-list-{}", addr.port()))
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(conn) = conn else { continue };
                        let (catalogue, requests) = (catalogue.clone(), requests.clone());
                        std::thread::spawn(move || serve(conn, &catalogue, &requests));
                    }
                })
                .expect("spawn the fake price list thread")
        };
        Self {
            endpoint: format!("http://{addr}"),
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL to give the pricing client (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// GetProducts requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakePriceList {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers requests on one keep-alive connection until the client closes it.
fn serve(conn: TcpStream, catalogue: &[FakeProduct], requests: &AtomicUsize) {
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut target = String::new();
        let mut length = 0usize;
        let mut line = String::new();
        // Request line and headers.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("x-amz-target") {
                    target = value.to_owned();
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, answer) = if target == "AWSPriceListService.GetProducts" {
            requests.fetch_add(1, Ordering::SeqCst);
            get_products(&body, catalogue)
        } else {
            (
                "400 Bad Request",
                json!({"__type": "UnknownOperationException", "message": format!("not faked: {target}")}),
            )
        };
        let text = answer.to_string();
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\n\
             content-length: {}\r\nx-amzn-requestid: fake\r\n\r\n",
            text.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(text.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// GetProducts over the catalogue: every product of the service that matches every filter.
fn get_products(body: &[u8], catalogue: &[FakeProduct]) -> (&'static str, Value) {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return (
            "400 Bad Request",
            json!({"__type": "InvalidParameterException", "Message": "body is not JSON"}),
        );
    };
    let service = req["ServiceCode"].as_str().unwrap_or_default();
    let filters: Vec<(String, String)> = req["Filters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["Type"] == "TERM_MATCH")
        .map(|f| {
            (
                f["Field"].as_str().unwrap_or_default().to_owned(),
                f["Value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let docs: Vec<String> = catalogue
        .iter()
        .enumerate()
        .filter(|(_, p)| p.matches(service, &filters))
        .map(|(n, p)| p.document(n))
        .collect();
    (
        "200 OK",
        json!({"FormatVersion": "aws_v1", "PriceList": docs}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(endpoint: &str, target: &str, body: &str) -> (String, Value) {
        let mut c = TcpStream::connect(endpoint.trim_start_matches("http://")).unwrap();
        write!(
            c,
            "POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: {target}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut r = BufReader::new(c);
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        let mut length = 0;
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            if l.trim().is_empty() {
                break;
            }
            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut b = vec![0; length];
        r.read_exact(&mut b).unwrap();
        (status, serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn filters_like_aws_and_counts_requests() {
        let fake = FakePriceList::start(FakeProduct::ec2_linux("us-east-1", "t3.micro", 0.0104));
        let ask = |os: &str| {
            let body = json!({"ServiceCode": "AmazonEC2", "Filters": [
                {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "t3.micro"},
                {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": os},
                {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
                {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"}]});
            post(
                &fake.endpoint(),
                "AWSPriceListService.GetProducts",
                &body.to_string(),
            )
        };
        let (status, v) = ask("Linux");
        assert!(status.contains("200"), "{status}");
        let list = v["PriceList"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        let doc: Value = serde_json::from_str(list[0].as_str().unwrap()).unwrap();
        assert_eq!(doc["product"]["attributes"]["operatingSystem"], "Linux");
        assert_eq!(ask("SUSE").1["PriceList"].as_array().unwrap().len(), 0);
        assert_eq!(fake.requests(), 2);
        let (status, _) = post(
            &fake.endpoint(),
            "AWSPriceListService.DescribeServices",
            "{}",
        );
        assert!(status.contains("400"), "{status}");
        assert_eq!(fake.requests(), 2);
    }
}
