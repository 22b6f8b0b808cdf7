#!/usr/bin/env python3
"""An independent checksum client, built from kvproto's and tipb's own protos (grpcio-tools' output
in kvproto/ and tipb/), that asks a TiKV cluster for one restored table's checksum the way BR does
(tidb br/pkg/checksum/executor.go): for the table's record range and its index range, a
`tipb.ChecksumRequest` (CRC64-XOR, the rule from the old table's prefix to the new one's) in a
`coprocessor.Request` of type 105 to each region's leader, over `tikvpb.Tikv/Coprocessor`, with
a timestamp from PD's TSO. It prints the sums as JSON: checksum (crc64 xor), total_kvs, total_bytes.
"""
import argparse
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "kvproto"))
sys.path.insert(0, os.path.join(here, "tipb"))

import grpc  # noqa: E402
import checksum_pb2  # noqa: E402  (tipb)
import coprocessor_pb2  # noqa: E402
import kvrpcpb_pb2  # noqa: E402
import pdpb_pb2  # noqa: E402
import tikvpb_pb2_grpc  # noqa: E402
from br_like_client import Client, clip, decode_bytes, encode_bytes, table_prefix  # noqa: E402

REQ_TYPE_CHECKSUM = 105  # tikv src/coprocessor/mod.rs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pd", required=True)
    parser.add_argument("--old-table", type=int, required=True)
    parser.add_argument("--new-table", type=int, required=True)
    args = parser.parse_args()

    client = Client(args.pd)
    tikv = {sid: tikvpb_pb2_grpc.TikvStub(ch) for sid, ch in client.channels.items()}
    tso = next(client.pd.Tso(iter([pdpb_pb2.TsoRequest(header=client.header, count=1)]), timeout=10))
    read_ts = (tso.timestamp.physical << 18) + tso.timestamp.logical

    total = {"checksum": 0, "total_kvs": 0, "total_bytes": 0, "requests": 0}
    for separator, scan_on in [(b"_r", checksum_pb2.Table), (b"_i", checksum_pb2.Index)]:
        old_prefix = table_prefix(args.old_table) + separator
        new_prefix = table_prefix(args.new_table) + separator
        end = new_prefix[:-1] + bytes([new_prefix[-1] + 1])
        data = checksum_pb2.ChecksumRequest(
            scan_on=scan_on, algorithm=checksum_pb2.Crc64_Xor,
            rule=checksum_pb2.ChecksumRewriteRule(old_prefix=old_prefix, new_prefix=new_prefix)).SerializeToString()
        start_key, end_key = encode_bytes(new_prefix), encode_bytes(end)
        for region, leader in client.scan(start_key, end_key):
            window = clip(start_key, end_key, region)
            if window is None:
                continue
            # Ranges are plain keys; the regions' bounds are encoded ones.
            plain = [decode_bytes(k) for k in window]
            request = coprocessor_pb2.Request(
                context=kvrpcpb_pb2.Context(region_id=region.id, region_epoch=region.region_epoch, peer=leader),
                tp=REQ_TYPE_CHECKSUM, data=data, start_ts=read_ts,
                ranges=[coprocessor_pb2.KeyRange(start=plain[0], end=plain[1])])
            response = tikv[leader.store_id].Coprocessor(request, timeout=60)
            if response.HasField("region_error") or response.other_error:
                raise SystemExit(f"region {region.id}: {response.region_error} {response.other_error}")
            part = checksum_pb2.ChecksumResponse.FromString(response.data)
            total["checksum"] ^= part.checksum
            total["total_kvs"] += part.total_kvs
            total["total_bytes"] += part.total_bytes
            total["requests"] += 1
    print(json.dumps(total))


if __name__ == "__main__":
    main()
