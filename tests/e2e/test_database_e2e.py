"""StackeryDatabase on a real apiserver against a moto server: the credentials Secret refused until the
operator's administrator grants Secret writes in the namespace (the chart's outputSecrets), then Ready
with the endpoint in status and a Secret whose keys work; a connected Function and Bastion carry its
client group; drift (backup retention, an ingress rule from 0.0.0.0/0) reported then corrected; bad
specs refused at admission; deletion protection holds a delete until the spec turns it off; the final
snapshot is left behind and nothing else is."""

from __future__ import annotations

import functools
import json
import subprocess

import testbed

from tests.unit.test_contract import _zip, ssh_key

from .conftest import apply_list, aws, cond, node, ready, wait_for

NS = "shop"


obj = functools.partial(node, namespace=NS)


def grant_secret_writes(bed: testbed.TestBed, namespace: str) -> None:
    """What the operator's administrator does: the chart's outputSecrets.namespaces, rendered and applied."""
    rendered = subprocess.run(
        [
            str(testbed.helm_binary()),
            "template",
            "stackery-operator",
            str(testbed.ROOT / "charts/stackery-operator"),
            "--namespace",
            testbed.OPERATOR_NS,
            "--show-only",
            "templates/secrets-rbac.yaml",
            "--set",
            f"outputSecrets.namespaces={{{namespace}}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"namespace: {namespace}" in rendered and "kind: ClusterRole" not in rendered
    bed.kubectl("apply", "-f", "-", input=rendered)


def drift_fields(bed: testbed.TestBed) -> set[str]:
    return {d["field"] for d in bed.get("stackerydatabase", "orders", NS)["status"].get("drift") or []}


def secret_data(bed: testbed.TestBed, name: str) -> dict[str, str]:
    import base64

    got = json.loads(bed.kubectl("get", "secret", name, "-n", NS, "-o", "json").stdout)
    return {k: base64.b64decode(v).decode() for k, v in got["data"].items()}


def test_database_secret_wiring_drift_protection_and_final_snapshot(bed: testbed.TestBed) -> None:
    bed.kubectl("create", "namespace", NS)
    apply_list(
        bed,
        obj("StackeryVirtualNetwork", "net", natGateways="None"),
        obj(
            "StackeryDatabase",
            "orders",
            virtualNetwork="net",
            engine="postgres",
            engineVersion="16.3",
            databaseName="orders",
            driftPolicy="Report",
            outputs={"configMapName": "orders-db", "secretName": "orders-db-credentials"},
        ),
        obj(
            "StackeryFunction",
            "worker",
            virtualNetwork="net",
            code={"zipBase64": _zip()},
            connections=[{"kind": "StackeryDatabase", "name": "orders"}],
        ),
        obj(
            "StackeryBastion",
            "jump",
            virtualNetwork="net",
            allowedCidrs=["192.0.2.0/24"],
            users=[{"name": "dba", "publicKey": ssh_key("dba")}],
            connections=[{"kind": "StackeryDatabase", "name": "orders"}],
        ),
    )

    # no Secret writes granted in this namespace yet: Stalled, naming the chart setting; nothing written
    def forbidden() -> bool:
        o = bed.get("stackerydatabase", "orders", NS)
        return cond(o, "Stalled")["status"] == "True" and cond(o, "Stalled")["reason"] == "OutputsForbidden"

    wait_for(forbidden, timeout=120, what="Stalled OutputsForbidden")
    assert "outputSecrets.namespaces" in cond(bed.get("stackerydatabase", "orders", NS), "Stalled")["message"]
    assert bed.kubectl("get", "secret", "orders-db-credentials", "-n", NS, check=False).returncode != 0
    grant_secret_writes(bed, NS)

    db = wait_for(lambda: ready(bed, "stackerydatabase", "orders", NS), timeout=120, what="database Ready")
    st = db["status"]
    assert st["endpoint"] and st["port"] == 5432 and st["engineVersion"] == "16.3"
    assert cond(db, "Available")["status"] == "True" and st["databaseStatus"] == "available"
    sm = aws(bed, "secretsmanager")
    password = json.loads(sm.get_secret_value(SecretId=st["masterUserSecretArn"])["SecretString"])["password"]
    creds = secret_data(bed, "orders-db-credentials")
    assert creds["password"] == password and creds["username"] == "stackery" and creds["dbname"] == "orders"
    assert creds["host"] == st["endpoint"] and creds["port"] == "5432"
    assert (
        creds["uri"]
        == f"postgresql://stackery:{__import__('urllib.parse').parse.quote(password, safe='')}@{st['endpoint']}:5432/orders"
    )
    assert password not in json.dumps(st) and password not in bed.kubectl("get", "events", "-n", NS, "-o", "json").stdout
    cm = json.loads(bed.kubectl("get", "configmap", "orders-db", "-n", NS, "-o", "json").stdout)["data"]
    assert cm["DB_ADDRESS"] == st["endpoint"] and cm["DB_ROOT_USER_SECRET_ARN"] == st["masterUserSecretArn"]

    # the connected nodes carry the client group; the database's group admits only that group
    fn = wait_for(lambda: ready(bed, "stackeryfunction", "worker", NS), timeout=90, what="function Ready")
    lam = aws(bed, "lambda").get_function_configuration(FunctionName=fn["status"]["externalName"])
    assert st["clientSecurityGroupId"] in lam["VpcConfig"]["SecurityGroupIds"]
    assert lam["Environment"]["Variables"]["DB_ADDRESS"] == st["endpoint"]
    jump = wait_for(lambda: ready(bed, "stackerybastion", "jump", NS), timeout=120, what="bastion Ready")
    ec2 = aws(bed, "ec2")
    inst = ec2.describe_instances(InstanceIds=[jump["status"]["instanceId"]])["Reservations"][0]["Instances"][0]
    assert st["clientSecurityGroupId"] in {g["GroupId"] for g in inst["SecurityGroups"]}
    sg = ec2.describe_security_groups(GroupIds=[st["securityGroupId"]])["SecurityGroups"][0]
    assert [[g["GroupId"] for g in p["UserIdGroupPairs"]] for p in sg["IpPermissions"]] == [[st["clientSecurityGroupId"]]]

    # drift behind the operator's back: reported (driftPolicy Report), then corrected
    ec2.authorize_security_group_ingress(
        GroupId=st["securityGroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    rds = aws(bed, "rds")
    rds.modify_db_instance(DBInstanceIdentifier=st["externalName"], BackupRetentionPeriod=1, ApplyImmediately=True)
    wait_for(lambda: {"securityGroup.ingress", "backupRetentionDays"} <= drift_fields(bed), timeout=60, what="drift reported")
    bed.kubectl("patch", "stackerydatabase", "orders", "-n", NS, "--type=merge", "-p", '{"spec": {"driftPolicy": "Correct"}}')

    def corrected() -> bool:
        got = ec2.describe_security_groups(GroupIds=[st["securityGroupId"]])["SecurityGroups"][0]
        inst = rds.describe_db_instances(DBInstanceIdentifier=st["externalName"])["DBInstances"][0]
        return not any(p["IpRanges"] for p in got["IpPermissions"]) and inst["BackupRetentionPeriod"] == 7

    wait_for(corrected, timeout=60, what="drift corrected")

    # bad specs: refused at admission
    for spec, words in (
        ({"engine": "postgres", "storage": {"allocatedGib": 10}}, "allocatedGib"),
        ({"engine": "aurora-postgresql", "serverless": {"minCapacity": 8, "maxCapacity": 2}}, "minCapacity must not exceed"),
        ({"engine": "oracle-ee"}, "Unsupported value"),
        ({"engine": "postgres", "virtualNetwork": None}, "virtualNetwork"),
    ):
        bad = obj("StackeryDatabase", "bad", virtualNetwork="net")
        bad["spec"].update(spec)
        bad["spec"] = {k: v for k, v in bad["spec"].items() if v is not None}
        res = bed.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
        assert res.returncode != 0 and words in res.stderr, (words, res.stderr)
    res = bed.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            obj(
                "StackeryFunction",
                "bad",
                code={"zipBase64": _zip()},
                connections=[{"kind": "StackeryDatabase", "name": "orders"}],
            )
        ),
        check=False,
    )
    assert res.returncode != 0 and "needs spec.virtualNetwork" in res.stderr, res.stderr

    # delete: the consumers first (the database refuses while in use), then deletion protection holds it
    bed.kubectl("delete", "stackeryfunction", "worker", "-n", NS, "--timeout=90s")
    bed.kubectl("delete", "stackerybastion", "jump", "-n", NS, "--timeout=90s")
    bed.kubectl("delete", "stackerydatabase", "orders", "-n", NS, "--wait=false")

    def protected() -> bool:
        o = bed.get("stackerydatabase", "orders", NS)
        return cond(o, "Stalled")["status"] == "True" and cond(o, "Stalled")["reason"] == "DeletionProtected"

    wait_for(protected, timeout=60, what="delete held by deletion protection")
    assert (
        "kubectl patch stackerydatabase orders -n shop" in cond(bed.get("stackerydatabase", "orders", NS), "Stalled")["message"]
    )
    assert rds.describe_db_instances(DBInstanceIdentifier=st["externalName"])["DBInstances"]
    bed.kubectl("patch", "stackerydatabase", "orders", "-n", NS, "--type=merge", "-p", '{"spec": {"deletionProtection": false}}')
    bed.kubectl("wait", "--for=delete", "stackerydatabase/orders", "-n", NS, "--timeout=90s")

    snap = f"{st['externalName']}-final-{db['metadata']['uid'].replace('-', '')[:8]}"
    got = rds.describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"]
    assert got and got[0]["Status"] == "available"
    events = bed.kubectl("get", "events", "-n", NS, "--field-selector", "reason=FinalSnapshot", "-o", "json").stdout
    assert snap in events
    assert not [i for i in rds.describe_db_instances()["DBInstances"] if i["DBInstanceIdentifier"] == st["externalName"]]
    assert st["subnetGroup"] not in {g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]}
    ids = [st["securityGroupId"], st["clientSecurityGroupId"]]
    assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": ids}])["SecurityGroups"]
    assert bed.kubectl("get", "secret", "orders-db-credentials", "-n", NS, check=False).returncode != 0
