"""Generated protobuf code lives here (see cluster/codegen.py); only this file is checked in."""
