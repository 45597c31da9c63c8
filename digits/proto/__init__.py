"""Protocol buffers shared with Caffe (caffe.proto -> caffe_pb2.py via `python -m digits.proto.build`)."""
