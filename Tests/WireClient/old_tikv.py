#!/usr/bin/env python3
"""A PD whose one store predates MultiIngest: PD's GetMembers and GetAllStores are served, and
the store (at the same address) implements no ImportSST method, so every call answers
UNIMPLEMENTED. Prints "port N" once it listens; exits when stdin closes."""
import os
import sys
from concurrent import futures

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kvproto"))

import grpc  # noqa: E402
import metapb_pb2  # noqa: E402
import pdpb_pb2  # noqa: E402
import pdpb_pb2_grpc  # noqa: E402

CLUSTER_ID = 7


class PD(pdpb_pb2_grpc.PDServicer):
    def __init__(self):
        self.address = ""

    def GetMembers(self, request, context):
        member = pdpb_pb2.Member(name="pd", member_id=1, client_urls=[f"http://{self.address}"])
        return pdpb_pb2.GetMembersResponse(header=pdpb_pb2.ResponseHeader(cluster_id=CLUSTER_ID), members=[member], leader=member)

    def GetAllStores(self, request, context):
        store = metapb_pb2.Store(id=1, address=self.address, state=metapb_pb2.Up, version="4.0.0")
        return pdpb_pb2.GetAllStoresResponse(header=pdpb_pb2.ResponseHeader(cluster_id=CLUSTER_ID), stores=[store])


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pd = PD()
    pdpb_pb2_grpc.add_PDServicer_to_server(pd, server)
    port = server.add_insecure_port("127.0.0.1:0")
    pd.address = f"127.0.0.1:{port}"
    server.start()
    print(f"port {port}", flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
