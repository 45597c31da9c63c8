"""Regenerates caffe_pb2.py from caffe.proto (needs grpcio-tools; only developers run this)."""
import os
import sys


def main():
    from grpc_tools import protoc
    here = os.path.dirname(os.path.abspath(__file__))
    rc = protoc.main(["protoc", f"-I{here}", f"--python_out={here}", os.path.join(here, "caffe.proto")])
    sys.exit(rc)


if __name__ == "__main__":
    main()
