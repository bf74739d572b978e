//! Integration tests: the real `podiam` binary on 127.0.0.1:0, driven by the
//! real aws CLI, boto3, aws-sdk-rust and raw SigV4 requests.

mod it;
