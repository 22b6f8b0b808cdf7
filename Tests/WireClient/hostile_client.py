#!/usr/bin/env python3
"""A client that any network peer could be, built from kvproto's own protos: it reads a region
from PD's ScanRegions (which any client may call) and sends `cluster serve` Downloads that no
restore sends: a length of 2^63, local paths outside the server's storage roots (a file that
exists, one that does not, the cluster's own store directory), an S3 endpoint the server was not
told to allow, and a length of 0. It prints a JSON report of each answer's error message, and
whether PD and every store still answer afterwards.
"""
import argparse
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kvproto"))

import grpc  # noqa: E402
import brpb_pb2  # noqa: E402
import import_sstpb_pb2  # noqa: E402
import import_sstpb_pb2_grpc  # noqa: E402
import pdpb_pb2  # noqa: E402
import pdpb_pb2_grpc  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pd", required=True)
    parser.add_argument("--backup", required=True, help="a backup directory under the server's storage root")
    parser.add_argument("--file", required=True, help="the name of one of its SSTs")
    parser.add_argument("--cluster", required=True, help="the served cluster's directory")
    args = parser.parse_args()

    pd = pdpb_pb2_grpc.PDStub(grpc.insecure_channel(args.pd))
    header = pdpb_pb2.RequestHeader(cluster_id=pd.GetMembers(pdpb_pb2.GetMembersRequest(), timeout=10).header.cluster_id)
    stores = pd.GetAllStores(pdpb_pb2.GetAllStoresRequest(header=header), timeout=10).stores
    importers = {s.id: import_sstpb_pb2_grpc.ImportSSTStub(grpc.insecure_channel(s.address)) for s in stores}
    region = pd.ScanRegions(pdpb_pb2.ScanRegionsRequest(header=header, limit=1), timeout=10).regions[0].region
    store = region.peers[0].store_id

    def download(name, backend, length):
        meta = import_sstpb_pb2.SSTMeta(
            uuid=uuid.uuid4().bytes, range=import_sstpb_pb2.Range(start=region.start_key, end=region.end_key),
            cf_name="write", region_id=region.id, region_epoch=region.region_epoch, length=length, end_key_exclusive=True)
        request = import_sstpb_pb2.DownloadRequest(sst=meta, name=name, storage_backend=backend)
        try:
            resp = importers[store].Download(request, timeout=30)
        except grpc.RpcError as e:
            return {"status": e.code().name, "message": e.details()}
        return {"status": "OK", "message": resp.error.message if resp.HasField("error") else ""}

    def local(path):
        return brpb_pb2.StorageBackend(local=brpb_pb2.Local(path=path))

    report = {
        "huge_length": download(args.file, local(os.path.abspath(args.backup)), 1 << 63),
        "outside_existing": download("etc/passwd", local("/"), 0),
        "outside_missing": download("etc/no-such-file", local("/"), 0),
        "dotdot": download("../../../etc/passwd", local(os.path.abspath(args.backup)), 0),
        "store_directory": download("stores/1/store.json", local(os.path.abspath(args.cluster)), 0),
        "s3_endpoint": download(args.file, brpb_pb2.StorageBackend(s3=brpb_pb2.S3(endpoint="http://169.254.169.254", bucket="b")), 0),
        "zero_length": download(args.file, local(os.path.abspath(args.backup)), 0),
    }
    # TiKV checks only the version of a split's epoch (raftstore store/util.rs check_region_epoch).
    import kvrpcpb_pb2  # noqa: E402
    leader = pd.GetRegionByID(pdpb_pb2.GetRegionByIDRequest(header=header, region_id=region.id), timeout=10).leader
    epoch = type(region.region_epoch)(conf_ver=region.region_epoch.conf_ver + 5, version=region.region_epoch.version)
    split = grpc.insecure_channel([s.address for s in stores if s.id == leader.store_id][0]).unary_unary(
        "/tikvpb.Tikv/SplitRegion", request_serializer=kvrpcpb_pb2.SplitRegionRequest.SerializeToString,
        response_deserializer=kvrpcpb_pb2.SplitRegionResponse.FromString)
    answer = split(kvrpcpb_pb2.SplitRegionRequest(
        context=kvrpcpb_pb2.Context(region_id=region.id, region_epoch=epoch, peer=leader), split_keys=[b"zz-split-point"]), timeout=30)
    report["split_other_conf_ver"] = {"region_error": str(answer.region_error) if answer.HasField("region_error") else "", "regions": len(answer.regions)}

    alive = {"pd": False, "stores": []}
    alive["pd"] = bool(pd.GetMembers(pdpb_pb2.GetMembersRequest(), timeout=10).header.cluster_id)
    for sid, importer in sorted(importers.items()):
        importer.MultiIngest(import_sstpb_pb2.MultiIngestRequest(), timeout=10)
        alive["stores"].append(sid)
    report["alive"] = alive
    print(json.dumps(report))


if __name__ == "__main__":
    main()
