#!/usr/bin/env python3
"""A real S3-compatible server for the tests: moto's server (moto[server],
in the venv scripts/setup makes) on 127.0.0.1, filled with objects.

Usage: s3_server.py [--auth] [--put BUCKET/KEY=FILE[:public]]... [--bucket B]...
Prints one JSON line once the objects are in place:
  {"endpoint": "http://127.0.0.1:PORT", "key": ID, "secret": SECRET}
then serves until its standard input closes (or it is killed).

Objects are private unless ":public" (ACL public-read: readable unsigned).
With --auth, moto checks signatures from then on: only the printed key
(an IAM user allowed s3:*) is accepted; without it any key is.
"""
import json
import logging
import sys
import urllib.request

import boto3
from moto.server import ThreadedMotoServer


def main(argv):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    auth = "--auth" in argv
    puts, buckets = [], []
    i = 0
    while i < len(argv):
        if argv[i] == "--put":
            puts.append(argv[i + 1])
            i += 1
        elif argv[i] == "--bucket":
            buckets.append(argv[i + 1])
            i += 1
        i += 1
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = "http://%s:%d" % (host, port)
    session = dict(endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
    s3 = boto3.client("s3", **session)
    made = set()
    for b in buckets:
        s3.create_bucket(Bucket=b)
        made.add(b)
    for spec in puts:
        target, path = spec.split("=", 1)
        public = path.endswith(":public")
        if public:
            path = path[: -len(":public")]
        bucket, key = target.split("/", 1)
        if bucket not in made:
            s3.create_bucket(Bucket=bucket)
            made.add(bucket)
        with open(path, "rb") as f:
            extra = {"ACL": "public-read"} if public else {}
            s3.put_object(Bucket=bucket, Key=key, Body=f.read(), **extra)
    key = secret = "testing"
    if auth:
        iam = boto3.client("iam", **session)
        iam.create_user(UserName="h5fs")
        iam.put_user_policy(UserName="h5fs", PolicyName="all", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        k = iam.create_access_key(UserName="h5fs")["AccessKey"]
        key, secret = k["AccessKeyId"], k["SecretAccessKey"]
        req = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(req).read()
    print(json.dumps({"endpoint": endpoint, "key": key, "secret": secret}), flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
