//! aws-sdk-rust's default credential chain against podiam: with only
//! `AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ENDPOINT_URL` set,
//! prints the caller's ARN (used by the integration tests).

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sts = aws_sdk_sts::Client::new(&config);
    let me = sts.get_caller_identity().send().await?;
    println!("{}", me.arn().unwrap_or_default());
    Ok(())
}
