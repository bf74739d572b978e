//! Go struct field order and `omitempty` rules for the core/v1 types that
//! appear in the patch (containers and the token volume).
//!
//! Upstream decodes the pod into `k8s.io/api/core/v1` structs and re-encodes
//! the containers with `encoding/json`, so the bytes follow the Go declaration
//! order (read from `staging/src/k8s.io/api/core/v1/types.go`), fields without
//! `omitempty` always appear (`"resources":{}`, `"mountPath":""`,
//! `"service":null`), `map` keys are sorted and zero-valued `Quantity` fields
//! print as `"0"`. Keys a table does not know are dropped, as Go's decoder
//! drops them (upstream's `rawPodHasVolumeMount` fixture depends on it): the
//! tables follow the current `types.go`, so only a field newer than them, or
//! one no API server would send, is lost.

use crate::json::{Json, write_go_string, write_number, write_raw};

/// How one Go field is typed.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// `string` (zero value `""`).
    Str,
    /// `int32`/`int64` (zero value `0`).
    Int,
    /// `bool` (zero value `false`).
    Bool,
    /// A pointer to a scalar: emitted whenever present, even if zero.
    Ptr,
    /// A struct value (never omitted by `omitempty`).
    Struct(&'static [F]),
    /// A pointer to a struct.
    PtrStruct(&'static [F]),
    /// A slice of the given element kind.
    Slice(&'static Kind),
    /// `intstr.IntOrString` (a struct: zero value `0`).
    IntOrStr,
    /// `resource.Quantity` (a struct: zero value `"0"`), written in its
    /// canonical form.
    Quantity,
    /// `map[ResourceName]resource.Quantity`: keys sorted, values canonical.
    QuantityMap,
    /// Anything else: the input value as is.
    Raw,
}

/// One field of a Go struct.
pub(crate) struct F {
    name: &'static str,
    kind: Kind,
    omit: bool,
}

const fn f(name: &'static str, kind: Kind) -> F {
    F {
        name,
        kind,
        omit: true,
    }
}

const fn req(name: &'static str, kind: Kind) -> F {
    F {
        name,
        kind,
        omit: false,
    }
}

use Kind::*;

const STRS: Kind = Slice(&Str);
const INTS: Kind = Slice(&Int);

const LOCAL_OBJECT_REF_OPT: &[F] = &[f("name", Str), f("optional", Ptr)];
const OBJECT_FIELD_SELECTOR: &[F] = &[f("apiVersion", Str), req("fieldPath", Str)];
const RESOURCE_FIELD_SELECTOR: &[F] = &[
    f("containerName", Str),
    req("resource", Str),
    f("divisor", Quantity),
];
const KEY_SELECTOR: &[F] = &[f("name", Str), req("key", Str), f("optional", Ptr)];
const FILE_KEY_SELECTOR: &[F] = &[
    req("volumeName", Str),
    req("path", Str),
    req("key", Str),
    f("optional", Ptr),
];
const ENV_VAR_SOURCE: &[F] = &[
    f("fieldRef", PtrStruct(OBJECT_FIELD_SELECTOR)),
    f("resourceFieldRef", PtrStruct(RESOURCE_FIELD_SELECTOR)),
    f("configMapKeyRef", PtrStruct(KEY_SELECTOR)),
    f("secretKeyRef", PtrStruct(KEY_SELECTOR)),
    f("fileKeyRef", PtrStruct(FILE_KEY_SELECTOR)),
];
pub(crate) const ENV_VAR: &[F] = &[
    req("name", Str),
    f("value", Str),
    f("valueFrom", PtrStruct(ENV_VAR_SOURCE)),
];
const ENV_FROM_SOURCE: &[F] = &[
    f("prefix", Str),
    f("configMapRef", PtrStruct(LOCAL_OBJECT_REF_OPT)),
    f("secretRef", PtrStruct(LOCAL_OBJECT_REF_OPT)),
];
const CONTAINER_PORT: &[F] = &[
    f("name", Str),
    f("hostPort", Int),
    req("containerPort", Int),
    f("protocol", Str),
    f("hostIP", Str),
];
const RESOURCE_CLAIM: &[F] = &[req("name", Str), f("request", Str)];
const RESOURCE_REQUIREMENTS: &[F] = &[
    f("limits", QuantityMap),
    f("requests", QuantityMap),
    f("claims", Slice(&Struct(RESOURCE_CLAIM))),
];
const RESIZE_POLICY: &[F] = &[req("resourceName", Str), req("restartPolicy", Str)];
const RESTART_RULE_ON_EXIT_CODES: &[F] = &[f("operator", Str), f("values", INTS)];
const RESTART_RULE: &[F] = &[
    f("action", Str),
    f("exitCodes", PtrStruct(RESTART_RULE_ON_EXIT_CODES)),
];
pub(crate) const VOLUME_MOUNT: &[F] = &[
    req("name", Str),
    f("readOnly", Bool),
    f("recursiveReadOnly", Ptr),
    req("mountPath", Str),
    f("subPath", Str),
    f("mountPropagation", Ptr),
    f("subPathExpr", Str),
];
const VOLUME_DEVICE: &[F] = &[req("name", Str), req("devicePath", Str)];
const EXEC_ACTION: &[F] = &[f("command", STRS)];
const HTTP_HEADER: &[F] = &[req("name", Str), req("value", Str)];
const HTTP_GET_ACTION: &[F] = &[
    f("path", Str),
    req("port", IntOrStr),
    f("host", Str),
    f("scheme", Str),
    f("httpHeaders", Slice(&Struct(HTTP_HEADER))),
];
const TCP_SOCKET_ACTION: &[F] = &[req("port", IntOrStr), f("host", Str)];
const GRPC_ACTION: &[F] = &[req("port", Int), req("service", Ptr)];
const SLEEP_ACTION: &[F] = &[req("seconds", Int)];
const PROBE: &[F] = &[
    f("exec", PtrStruct(EXEC_ACTION)),
    f("httpGet", PtrStruct(HTTP_GET_ACTION)),
    f("tcpSocket", PtrStruct(TCP_SOCKET_ACTION)),
    f("grpc", PtrStruct(GRPC_ACTION)),
    f("initialDelaySeconds", Int),
    f("timeoutSeconds", Int),
    f("periodSeconds", Int),
    f("successThreshold", Int),
    f("failureThreshold", Int),
    f("terminationGracePeriodSeconds", Ptr),
];
const LIFECYCLE_HANDLER: &[F] = &[
    f("exec", PtrStruct(EXEC_ACTION)),
    f("httpGet", PtrStruct(HTTP_GET_ACTION)),
    f("tcpSocket", PtrStruct(TCP_SOCKET_ACTION)),
    f("sleep", PtrStruct(SLEEP_ACTION)),
];
const LIFECYCLE: &[F] = &[
    f("postStart", PtrStruct(LIFECYCLE_HANDLER)),
    f("preStop", PtrStruct(LIFECYCLE_HANDLER)),
    f("stopSignal", Ptr),
];
const CAPABILITIES: &[F] = &[f("add", STRS), f("drop", STRS)];
const SE_LINUX_OPTIONS: &[F] = &[
    f("user", Str),
    f("role", Str),
    f("type", Str),
    f("level", Str),
];
const WINDOWS_OPTIONS: &[F] = &[
    f("gmsaCredentialSpecName", Ptr),
    f("gmsaCredentialSpec", Ptr),
    f("runAsUserName", Ptr),
    f("hostProcess", Ptr),
];
const PROFILE: &[F] = &[req("type", Str), f("localhostProfile", Ptr)];
const SECURITY_CONTEXT: &[F] = &[
    f("capabilities", PtrStruct(CAPABILITIES)),
    f("privileged", Ptr),
    f("seLinuxOptions", PtrStruct(SE_LINUX_OPTIONS)),
    f("windowsOptions", PtrStruct(WINDOWS_OPTIONS)),
    f("runAsUser", Ptr),
    f("runAsGroup", Ptr),
    f("runAsNonRoot", Ptr),
    f("readOnlyRootFilesystem", Ptr),
    f("allowPrivilegeEscalation", Ptr),
    f("procMount", Ptr),
    f("seccompProfile", PtrStruct(PROFILE)),
    f("appArmorProfile", PtrStruct(PROFILE)),
];

/// `core/v1.Container`.
pub(crate) const CONTAINER: &[F] = &[
    req("name", Str),
    f("image", Str),
    f("command", STRS),
    f("args", STRS),
    f("workingDir", Str),
    f("ports", Slice(&Struct(CONTAINER_PORT))),
    f("envFrom", Slice(&Struct(ENV_FROM_SOURCE))),
    f("env", Slice(&Struct(ENV_VAR))),
    f("resources", Struct(RESOURCE_REQUIREMENTS)),
    f("resizePolicy", Slice(&Struct(RESIZE_POLICY))),
    f("restartPolicy", Ptr),
    f("restartPolicyRules", Slice(&Struct(RESTART_RULE))),
    f("volumeMounts", Slice(&Struct(VOLUME_MOUNT))),
    f("volumeDevices", Slice(&Struct(VOLUME_DEVICE))),
    f("livenessProbe", PtrStruct(PROBE)),
    f("readinessProbe", PtrStruct(PROBE)),
    f("startupProbe", PtrStruct(PROBE)),
    f("lifecycle", PtrStruct(LIFECYCLE)),
    f("terminationMessagePath", Str),
    f("terminationMessagePolicy", Str),
    f("imagePullPolicy", Str),
    f("securityContext", PtrStruct(SECURITY_CONTEXT)),
    f("stdin", Bool),
    f("stdinOnce", Bool),
    f("tty", Bool),
];

const SA_TOKEN_PROJECTION: &[F] = &[
    f("audience", Str),
    f("expirationSeconds", Ptr),
    req("path", Str),
];
const VOLUME_PROJECTION: &[F] = &[
    f("secret", Raw),
    f("downwardAPI", Raw),
    f("configMap", Raw),
    f("serviceAccountToken", PtrStruct(SA_TOKEN_PROJECTION)),
    f("clusterTrustBundle", Raw),
    f("podCertificate", Raw),
];
const PROJECTED: &[F] = &[
    req("sources", Slice(&Struct(VOLUME_PROJECTION))),
    f("defaultMode", Ptr),
];

/// `core/v1.Volume`: every member of `VolumeSource`, those the webhook does
/// not write copied as they came.
pub(crate) const VOLUME: &[F] = &[
    req("name", Str),
    f("hostPath", Raw),
    f("emptyDir", Raw),
    f("gcePersistentDisk", Raw),
    f("awsElasticBlockStore", Raw),
    f("gitRepo", Raw),
    f("secret", Raw),
    f("nfs", Raw),
    f("iscsi", Raw),
    f("glusterfs", Raw),
    f("persistentVolumeClaim", Raw),
    f("rbd", Raw),
    f("flexVolume", Raw),
    f("cinder", Raw),
    f("cephfs", Raw),
    f("flocker", Raw),
    f("downwardAPI", Raw),
    f("fc", Raw),
    f("azureFile", Raw),
    f("configMap", Raw),
    f("vsphereVolume", Raw),
    f("quobyte", Raw),
    f("azureDisk", Raw),
    f("photonPersistentDisk", Raw),
    f("projected", PtrStruct(PROJECTED)),
    f("portworxVolume", Raw),
    f("scaleIO", Raw),
    f("storageos", Raw),
    f("csi", Raw),
    f("ephemeral", Raw),
    f("image", Raw),
];

fn is_zero(kind: Kind, v: Option<&Json>) -> bool {
    // Go's omitempty never omits a struct value.
    if matches!(kind, Struct(_) | IntOrStr | Quantity) {
        return false;
    }
    match v {
        None | Some(Json::Null) => true,
        Some(v) => match kind {
            Str => v.as_str() == Some(""),
            Int => matches!(v, Json::Num(n) if n.as_i64() == Some(0) || n.as_u64() == Some(0)),
            Bool => matches!(v, Json::Bool(false)),
            Slice(_) => matches!(v, Json::Arr(a) if a.is_empty()),
            QuantityMap => matches!(v, Json::Obj(m) if m.is_empty()),
            // Pointers are "empty" only when nil; struct values never are.
            Ptr | PtrStruct(_) | Raw => false,
            Struct(_) | IntOrStr | Quantity => false,
        },
    }
}

/// Writes `v` as the Go type `kind` would encode it.
fn write_kind(out: &mut String, kind: Kind, v: Option<&Json>) {
    match kind {
        Str => match v {
            None | Some(Json::Null) => out.push_str("\"\""),
            // An unquoted YAML scalar in a string field: Kubernetes' YAML
            // reader makes it a string.
            Some(Json::Num(n)) => write_go_string(out, &n.to_string()),
            Some(Json::Bool(b)) => write_go_string(out, &b.to_string()),
            Some(v) => write_raw(out, v),
        },
        Int => match v {
            Some(Json::Num(n)) => write_number(out, n),
            None | Some(Json::Null) => out.push('0'),
            Some(v) => write_raw(out, v),
        },
        Bool => match v {
            None | Some(Json::Null) => out.push_str("false"),
            Some(v) => write_raw(out, v),
        },
        Ptr | Raw => match v {
            None => out.push_str("null"),
            Some(v) => write_raw(out, v),
        },
        Struct(fields) => write_struct(out, fields, v),
        PtrStruct(fields) => match v {
            None | Some(Json::Null) => out.push_str("null"),
            Some(v) => write_struct(out, fields, Some(v)),
        },
        Slice(elem) => match v {
            None | Some(Json::Null) => out.push_str("null"),
            Some(Json::Arr(items)) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_kind(out, *elem, Some(item));
                }
                out.push(']');
            }
            Some(v) => write_raw(out, v),
        },
        QuantityMap => match v {
            None | Some(Json::Null) => out.push_str("null"),
            Some(Json::Obj(members)) => {
                // Go sorts map keys (byte order); a repeated key keeps its last value.
                let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
                keys.sort_unstable();
                keys.dedup();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_go_string(out, k);
                    out.push(':');
                    let value = members.iter().rev().find(|(mk, _)| mk == k).map(|(_, v)| v);
                    write_kind(out, Quantity, value);
                }
                out.push('}');
            }
            Some(v) => write_raw(out, v),
        },
        IntOrStr => match v {
            None | Some(Json::Null) => out.push('0'),
            Some(v) => write_raw(out, v),
        },
        Quantity => match v {
            None | Some(Json::Null) => out.push_str("\"0\""),
            Some(v) => {
                let text = match v {
                    Json::Str(s) => Some(s.clone()),
                    Json::Num(n) => Some(n.to_string()),
                    _ => None,
                };
                match text.as_deref().and_then(crate::quantity::canonical) {
                    Some(q) => write_go_string(out, &q),
                    None => write_raw(out, v),
                }
            }
        },
    }
}

/// Writes `v` as the Go struct described by `fields`.
pub(crate) fn write_struct(out: &mut String, fields: &[F], v: Option<&Json>) {
    let members: &[(String, Json)] = match v {
        None | Some(Json::Null) => &[],
        Some(Json::Obj(m)) => m,
        Some(other) => {
            write_raw(out, other);
            return;
        }
    };
    let get = |name: &str| {
        members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    };
    out.push('{');
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push(',');
        }
        first = false;
    };
    for field in fields {
        let value = get(field.name);
        if field.omit && is_zero(field.kind, value) {
            continue;
        }
        sep(out);
        write_go_string(out, field.name);
        out.push(':');
        write_kind(out, field.kind, value);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(input: &str) -> String {
        let j: Json = serde_json::from_str(input).unwrap();
        let mut out = String::new();
        write_struct(&mut out, CONTAINER, Some(&j));
        out
    }

    #[test]
    fn restart_rules_omit_empty_action_and_operator() {
        // Both are `omitempty` in k8s.io/api.
        assert_eq!(
            container(r#"{"name":"a","restartPolicyRules":[{"exitCodes":{"values":[42]}}]}"#),
            r#"{"name":"a","resources":{},"restartPolicyRules":[{"exitCodes":{"values":[42]}}]}"#
        );
    }

    #[test]
    fn unquoted_yaml_scalars_in_string_fields_are_strings() {
        assert_eq!(
            container(
                r#"{"name":"a","env":[{"name":"P","value":8080},{"name":"B","value":true}]}"#
            ),
            r#"{"name":"a","env":[{"name":"P","value":"8080"},{"name":"B","value":"true"}],"resources":{}}"#
        );
    }

    #[test]
    fn container_order_and_zero_values() {
        assert_eq!(
            container(r#"{"image":"x","name":"a"}"#),
            r#"{"name":"a","image":"x","resources":{}}"#
        );
        assert_eq!(
            container(r#"{"volumeMounts":[{"path":"/p","name":"v"}],"name":"a"}"#),
            r#"{"name":"a","resources":{},"volumeMounts":[{"name":"v","mountPath":""}]}"#
        );
        assert_eq!(
            container(r#"{"name":"a","readinessProbe":{"grpc":{"port":5000}}}"#),
            r#"{"name":"a","resources":{},"readinessProbe":{"grpc":{"port":5000,"service":null}}}"#
        );
        assert_eq!(
            container(
                r#"{"name":"a","resources":{"requests":{"memory":"1Gi","cpu":"1"}},"tty":false,"stdin":true}"#
            ),
            r#"{"name":"a","resources":{"requests":{"cpu":"1","memory":"1Gi"}},"stdin":true}"#
        );
        assert_eq!(
            container(
                r#"{"name":"a","env":[{"name":"X","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}}]}"#
            ),
            r#"{"name":"a","env":[{"name":"X","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu","divisor":"0"}}}],"resources":{}}"#
        );
        assert_eq!(
            container(r#"{"name":"a","newField":{"z":1,"a":2},"securityContext":{"runAsUser":0}}"#),
            r#"{"name":"a","resources":{},"securityContext":{"runAsUser":0}}"#
        );
    }
}
