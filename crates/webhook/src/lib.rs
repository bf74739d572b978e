//! podiam's mutating admission webhook.
//!
//! It injects AWS credentials into pods exactly as
//! [aws/amazon-eks-pod-identity-webhook](https://github.com/aws/amazon-eks-pod-identity-webhook)
//! does, down to the bytes of the JSONPatch:
//!
//! * **Pod Identity first**: when `(namespace, serviceAccountName)` has an
//!   association, the pod gets `AWS_CONTAINER_CREDENTIALS_FULL_URI`,
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, the `eks-pod-identity-token`
//!   projected volume (audience `pods.eks.amazonaws.com`) and the label
//!   `eks.amazonaws.com/pod-identity: enabled`; a default 86400 s lifetime is
//!   jittered into `[79200, 86400]` (injectable [`RandomSource`]).
//! * **Otherwise IRSA**, when the service account has `<prefix>/role-arn`:
//!   `AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE` and the `aws-iam-token` volume.
//! * Env is appended in upstream's order (`AWS_STS_REGIONAL_ENDPOINTS`,
//!   `AWS_DEFAULT_REGION`, `AWS_REGION`, then the credential pair), never
//!   overwriting; a container that already has the pair, a region and the STS
//!   variable is left alone; mounts are added unless one with the volume's
//!   name exists; `<prefix>/skip-containers` (one CSV record) lists containers to
//!   leave alone; Windows node selectors get a `C:\…` token path; init
//!   containers (including native sidecars) are treated like containers.
//! * Expiry: pod annotation > service-account annotation > flag, floor 600.
//! * A pod that already declares a volume with the token volume's name keeps
//!   it: only the volume is not added.
//! * Labels decide nothing here: the skip label works through the webhook
//!   configuration's objectSelector, as upstream's does.
//!
//! [`mutate()`] is the pure function; [`review`] wraps it in AdmissionReview
//! JSON; [`server`] serves it over HTTPS with a ServiceAccount cache.

pub mod associations;
pub mod cache;
pub mod config;
mod goorder;
pub mod json;
pub mod metrics;
pub mod mutate;
mod quantity;
pub mod review;
pub mod server;

pub use config::{AgentIpFamily, ComposeRoleArn, ContainerCredentialsConfig, WebhookConfig};
pub use json::Json;
pub use mutate::{
    Associations, Mode, Mutation, RandomSource, ServiceAccountInfo, SystemRandom, ZeroRandom,
    mutate, mutate_k8s,
};
