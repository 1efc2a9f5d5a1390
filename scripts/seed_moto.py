#!/usr/bin/env python3
"""Seeds an AWS emulator (moto_server) with resources of every type Pockitect scans.

Used by the end-to-end tests, the scan benchmark and the sandbox quickstart. Prints a JSON
summary (ids per region and type) on stdout.

  seed_moto.py --endpoint http://127.0.0.1:5000 --regions us-east-1,eu-west-1 [--copies N]
               [--project demo] [--foreign other-project]
"""
import argparse
import json
import os

import boto3


def tags(project, name, managed=True):
    t = [{"Key": "Name", "Value": name}]
    if project:
        t.append({"Key": "pockitect:project", "Value": project})
        if managed:
            t.append({"Key": "pockitect:managed", "Value": "true"})
    return t


def spec(resource, project, name):
    return [{"ResourceType": resource, "Tags": tags(project, name)}]


def seed_region(endpoint, region, project, copies, out):
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
    rds = boto3.client("rds", region_name=region, endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint)
    ids = out.setdefault(region, {})
    add = lambda kind, value: ids.setdefault(kind, []).append(value)
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    for n in range(copies):
        name = f"{project}-{n}"
        vpc = ec2.create_vpc(CidrBlock=f"10.{n % 250}.0.0/16", TagSpecifications=spec("vpc", project, name))["Vpc"]["VpcId"]
        add("vpc", vpc)
        azs = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
        subnet_a = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n % 250}.1.0/24", AvailabilityZone=azs[0],
                                     TagSpecifications=spec("subnet", project, name + "-a"))["Subnet"]["SubnetId"]
        subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n % 250}.2.0/24", AvailabilityZone=azs[1 % len(azs)],
                                     TagSpecifications=spec("subnet", project, name + "-b"))["Subnet"]["SubnetId"]
        add("subnet", subnet_a)
        add("subnet", subnet_b)
        sg = ec2.create_security_group(GroupName=name + "-sg", Description="seeded", VpcId=vpc,
                                       TagSpecifications=spec("security-group", project, name + "-sg"))["GroupId"]
        add("security_group", sg)
        igw = ec2.create_internet_gateway(TagSpecifications=spec("internet-gateway", project, name))["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        add("internet_gateway", igw)
        rtb = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table", project, name))["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet_a)
        add("route_table", rtb)
        eip = ec2.allocate_address(Domain="vpc", TagSpecifications=spec("elastic-ip", project, name))["AllocationId"]
        add("elastic_ip", eip)
        nat = ec2.create_nat_gateway(SubnetId=subnet_a, AllocationId=eip,
                                     TagSpecifications=spec("natgateway", project, name))["NatGateway"]["NatGatewayId"]
        add("nat_gateway", nat)
        vol = ec2.create_volume(AvailabilityZone=azs[0], Size=8, TagSpecifications=spec("volume", project, name))["VolumeId"]
        add("ebs_volume", vol)
        key = f"{name}-{region}-key"
        ec2.create_key_pair(KeyName=key, TagSpecifications=spec("key-pair", project, key))
        add("key_pair", key)
        inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet_a,
                                 TagSpecifications=spec("instance", project, name))["Instances"][0]["InstanceId"]
        add("ec2_instance", inst)
        group = f"{name}-{region}-dbsubnets"
        rds.create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="seeded",
                                   SubnetIds=[subnet_a, subnet_b], Tags=tags(project, group))
        add("db_subnet_group", group)
        db = f"{name}-{region}-db"
        rds.create_db_instance(DBInstanceIdentifier=db, DBInstanceClass="db.t3.micro", Engine="postgres",
                               AllocatedStorage=20, MasterUsername="app", MasterUserPassword="seeded-not-secret-1",
                               DBSubnetGroupName=group, Tags=tags(project, db))
        add("rds_instance", db)
        bucket = f"{name}-{region}-bucket"
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags(project, bucket)})
        ids.setdefault("s3_bucket", []).append(bucket)


def seed_global(endpoint, project, copies, out):
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint)
    ids = out.setdefault("global", {})
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    for n in range(copies):
        role = f"{project}-{n}-role"
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, Tags=tags(project, role))
        ids.setdefault("iam_role", []).append(role)
        profile = f"{project}-{n}-profile"
        iam.create_instance_profile(InstanceProfileName=profile, Tags=tags(project, profile))
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
        ids.setdefault("iam_instance_profile", []).append(profile)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--regions", default="us-east-1,eu-west-1")
    p.add_argument("--copies", type=int, default=1)
    p.add_argument("--project", default="demo")
    args = p.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    out = {}
    for region in [r for r in args.regions.split(",") if r]:
        seed_region(args.endpoint, region, args.project, args.copies, out)
    seed_global(args.endpoint, args.project, args.copies, out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
