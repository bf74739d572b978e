import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.pagination.sync.SdkIterable;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.useragent.BusinessMetricFeatureId;
import software.amazon.awssdk.core.util.VersionInfo;
import software.amazon.awssdk.enhanced.dynamodb.DynamoDbEnhancedClient;
import software.amazon.awssdk.enhanced.dynamodb.DynamoDbIndex;
import software.amazon.awssdk.enhanced.dynamodb.DynamoDbTable;
import software.amazon.awssdk.enhanced.dynamodb.Key;
import software.amazon.awssdk.enhanced.dynamodb.TableSchema;
import software.amazon.awssdk.enhanced.dynamodb.model.Page;
import software.amazon.awssdk.enhanced.dynamodb.model.QueryConditional;
import software.amazon.awssdk.enhanced.dynamodb.model.QueryEnhancedRequest;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.DeleteItemResponse;
import software.amazon.awssdk.services.dynamodb.model.ReturnValue;
import software.amazon.awssdk.services.dynamodb.model.UpdateItemResponse;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.PutObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.sts.StsClient;
import software.amazon.awssdk.services.sts.model.GetCallerIdentityResponse;

/**
 * The AWS SDK for Java 2.x against podiam, run the way a pod runs it.
 *
 * <p>Credentials come only from the SDK's default chain (IRSA: {@code AWS_ROLE_ARN} +
 * {@code AWS_WEB_IDENTITY_TOKEN_FILE}; Pod Identity: {@code AWS_CONTAINER_CREDENTIALS_FULL_URI}
 * + {@code AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE}), the endpoint from {@code AWS_ENDPOINT_URL}
 * (or {@code AWS_ENDPOINT_URL_<SVC>}), the region from {@code AWS_REGION}. The only client
 * setting made in code is S3's path-style addressing (podiam serves path style on its port).
 *
 * <p>Calls: STS GetCallerIdentity; S3 ListObjectsV2, PutObject, GetObject on {@code
 * PROBE_BUCKET} and AccessDenied on {@code PROBE_DENIED_BUCKET}; the carts service's DynamoDB
 * calls on {@code PROBE_TABLE} (Enhanced Client put/get/index query with pagination/delete,
 * UpdateItem ALL_NEW and DeleteItem ALL_OLD on the low-level client) and AccessDeniedException
 * on {@code PROBE_DENIED_TABLE}. Prints one JSON summary line, then {@code JAVA POD PROBE OK};
 * exits 1 at the first unexpected result.
 */
public final class PodProbe {
    private PodProbe() {}

    /** An unexpected result: the probe stops here. */
    static final class ProbeFailure extends RuntimeException {
        ProbeFailure(String msg) {
            super(msg);
        }
    }

    static void check(boolean cond, String fmt, Object... args) {
        if (!cond) {
            throw new ProbeFailure(String.format(fmt, args));
        }
    }

    static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    /** Records the request headers of the last call that went out. */
    static final class LastRequest implements ExecutionInterceptor {
        final AtomicReference<SdkHttpRequest> last = new AtomicReference<>();

        @Override
        public void beforeTransmission(Context.BeforeTransmission ctx, ExecutionAttributes attrs) {
            last.set(ctx.httpRequest());
        }

        Map<String, Object> summary(String... names) {
            Map<String, Object> m = new LinkedHashMap<>();
            SdkHttpRequest r = last.get();
            if (r == null) {
                return m;
            }
            m.put("method", r.method().name());
            m.put("path", r.encodedPath());
            for (String n : names) {
                m.put(n, r.firstMatchingHeader(n).orElse(null));
            }
            return m;
        }
    }

    public static void main(String[] args) {
        String stage = "start";
        try {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("sdk", "aws-sdk-java-v2");
            out.put("sdkVersion", VersionInfo.SDK_VERSION);
            stage = "credentials";
            credentials(out);
            stage = "sts";
            sts(out);
            stage = "sts errors";
            stsErrors(out);
            stage = "s3";
            s3(out);
            stage = "dynamodb";
            dynamodb(out);
            System.out.println(Json.write(out));
            System.out.println("JAVA POD PROBE OK");
            System.out.flush();
            System.exit(0);
        } catch (ProbeFailure e) {
            System.err.println("PodProbe FAILED at " + stage + ": " + e.getMessage());
        } catch (AwsServiceException e) {
            System.err.println("PodProbe FAILED at " + stage + ": unexpected " + describe(e));
            e.printStackTrace();
        } catch (Exception e) {
            System.err.println("PodProbe FAILED at " + stage + ": " + e);
            e.printStackTrace();
        }
        System.exit(1);
    }

    static String describe(AwsServiceException e) {
        return String.format(
                "%s (HTTP %d, request id %s): %s",
                e.awsErrorDetails() == null ? "?" : e.awsErrorDetails().errorCode(),
                e.statusCode(),
                e.requestId(),
                e.awsErrorDetails() == null ? e.getMessage() : e.awsErrorDetails().errorMessage());
    }

    // ---------------------------------------------------------------- credentials

    static void credentials(Map<String, Object> out) {
        boolean irsa = System.getenv("AWS_ROLE_ARN") != null;
        boolean container = System.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != null;
        check(irsa != container, "set exactly one of AWS_ROLE_ARN (IRSA) and AWS_CONTAINER_CREDENTIALS_FULL_URI (Pod Identity)");
        out.put("mode", irsa ? "irsa" : "pod-identity");
        if (container) {
            out.put("containerCredentialsFullUri", System.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
        }
        // The chain every client below uses by default, resolved once here to name its source.
        try (DefaultCredentialsProvider chain = DefaultCredentialsProvider.builder().build()) {
            AwsCredentials c = chain.resolveCredentials();
            check(c instanceof AwsSessionCredentials, "expected temporary credentials, got %s", c.getClass().getName());
            AwsSessionCredentials s = (AwsSessionCredentials) c;
            check(s.accessKeyId().startsWith("ASIA"), "access key id %s is not a session key", s.accessKeyId());
            // providerName() holds the SDK's business-metric codes of the provider chain
            // (the `m/` user-agent field), e.g. "h,k" for web identity from env variables.
            String provider = c.providerName().orElse("");
            List<String> features = new ArrayList<>();
            for (String code : provider.split(",")) {
                for (BusinessMetricFeatureId f : BusinessMetricFeatureId.values()) {
                    if (f.value().equals(code)) {
                        features.add(f.name());
                    }
                }
            }
            out.put("credentialsProvider", provider);
            out.put("credentialsFeatures", features);
            String want = irsa ? "CREDENTIALS_STS_ASSUME_ROLE_WEB_ID" : "CREDENTIALS_HTTP";
            check(features.contains(want), "credentials came from %s %s, expected %s", provider, features, want);
            out.put("expiration", s.expirationTime().map(Object::toString).orElse(null));
            check(s.expirationTime().isPresent(), "session credentials without an expiration");
        }
    }

    // ---------------------------------------------------------------- STS

    static void sts(Map<String, Object> out) {
        try (StsClient sts = StsClient.create()) {
            GetCallerIdentityResponse me = sts.getCallerIdentity();
            String arn = me.arn();
            out.put("arn", arn);
            out.put("account", me.account());
            check(arn.startsWith("arn:aws:sts::") && arn.contains(":assumed-role/"), "not an assumed-role ARN: %s", arn);
            String[] parts = arn.split("/");
            check(parts.length == 3, "unexpected ARN shape: %s", arn);
            String roleArn = System.getenv("AWS_ROLE_ARN");
            if (roleArn != null) {
                String role = roleArn.substring(roleArn.lastIndexOf('/') + 1);
                check(parts[1].equals(role), "assumed role %s, expected %s", parts[1], role);
            }
            String expectRole = System.getenv("PROBE_EXPECT_ROLE");
            if (expectRole != null) {
                check(parts[1].equals(expectRole), "assumed role %s, expected %s", parts[1], expectRole);
            }
            // IRSA: the name the SDK's web identity provider generated (no AWS_ROLE_SESSION_NAME);
            // Pod Identity: the name eks-auth chose.
            out.put("sessionName", parts[2]);
            if (roleArn != null && System.getenv("AWS_ROLE_SESSION_NAME") == null) {
                check(parts[2].matches("aws-sdk-java-\\d+"), "session name %s is not the SDK's aws-sdk-java-<millis>", parts[2]);
            }
        }
    }

    // ---------------------------------------------------------------- STS errors

    // The tokens the test made (PROBE_BAD_TOKEN_<CASE>), presented unsigned to
    // AssumeRoleWithWebIdentity for PROBE_BAD_TOKEN_ROLE: STS's code and status.
    static void stsErrors(Map<String, Object> out) {
        String role = System.getenv("PROBE_BAD_TOKEN_ROLE");
        if (role == null) {
            return;
        }
        Map<String, Object> cases = new LinkedHashMap<>();
        try (StsClient sts = StsClient.builder()
                .credentialsProvider(software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider.create())
                .build()) {
            String[][] expected = {
                {"WRONG_NAMESPACE", "AccessDenied", "403"},
                {"EDITED_PAYLOAD", "InvalidIdentityToken", "400"},
                {"EXPIRED", "ExpiredTokenException", "400"},
            };
            for (String[] c : expected) {
                String token = System.getenv("PROBE_BAD_TOKEN_" + c[0]);
                check(token != null, "PROBE_BAD_TOKEN_%s is not set", c[0]);
                try {
                    sts.assumeRoleWithWebIdentity(b -> b.roleArn(role).roleSessionName("bad-token").webIdentityToken(token));
                    throw new ProbeFailure("AssumeRoleWithWebIdentity " + c[0] + " succeeded");
                } catch (AwsServiceException e) {
                    String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
                    check(c[1].equals(code) && e.statusCode() == Integer.parseInt(c[2]),
                            "%s: expected %s (HTTP %s), got %s", c[0], c[1], c[2], describe(e));
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("code", code);
                    m.put("status", e.statusCode());
                    m.put("requestId", e.requestId());
                    cases.put(c[0], m);
                }
            }
        }
        out.put("stsErrors", cases);
    }

    // ---------------------------------------------------------------- S3

    static void s3(Map<String, Object> out) {
        String bucket = env("PROBE_BUCKET", "pod-probe");
        String denied = env("PROBE_DENIED_BUCKET", "pod-probe-denied");
        LastRequest wire = new LastRequest();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("bucket", bucket);
        try (S3Client s3 = S3Client.builder()
                .forcePathStyle(true)
                .overrideConfiguration(o -> o.addExecutionInterceptor(wire))
                .build()) {
            String prefix = "java-probe/" + UUID.randomUUID() + "/";
            ListObjectsV2Response before = s3.listObjectsV2(b -> b.bucket(bucket).prefix(prefix));
            check(before.keyCount() == 0 && before.contents().isEmpty(), "fresh prefix not empty: %s", before.contents());

            String key = prefix + "hello.txt";
            byte[] body = ("hello from the AWS SDK for Java " + VersionInfo.SDK_VERSION + "\n").getBytes(StandardCharsets.UTF_8);
            PutObjectResponse put = s3.putObject(b -> b.bucket(bucket).key(key).contentType("text/plain"), RequestBody.fromBytes(body));
            check(put.eTag() != null && !put.eTag().isEmpty(), "PutObject without an ETag");
            r.put("putObject", Map.of("key", key, "etag", put.eTag(), "sent",
                    wire.summary("x-amz-content-sha256", "content-encoding", "x-amz-trailer",
                            "x-amz-decoded-content-length", "x-amz-sdk-checksum-algorithm",
                            "x-amz-checksum-crc32", "content-md5", "content-length")));

            ListObjectsV2Response after = s3.listObjectsV2(b -> b.bucket(bucket).prefix(prefix));
            List<String> keys = new ArrayList<>();
            for (S3Object o : after.contents()) {
                keys.add(o.key());
            }
            check(keys.equals(List.of(key)), "ListObjectsV2 after put: %s", keys);
            check(after.contents().get(0).size() == body.length, "listed size %d, put %d", after.contents().get(0).size(), body.length);
            r.put("listObjectsV2", keys);

            ResponseBytes<GetObjectResponse> got = s3.getObjectAsBytes(b -> b.bucket(bucket).key(key));
            check(java.util.Arrays.equals(got.asByteArray(), body), "GetObject returned other bytes");
            check(put.eTag().equals(got.response().eTag()), "ETag %s != %s", got.response().eTag(), put.eTag());
            r.put("getObject", Map.of("bytes", got.asByteArray().length, "contentType", String.valueOf(got.response().contentType())));

            s3.deleteObject(b -> b.bucket(bucket).key(key));

            // 6 MiB with the SDK's default checksums (aws-chunked with a trailer over
            // http), then a stream of unknown length; each read back byte for byte.
            byte[] big = new byte[6 * 1024 * 1024];
            new java.security.SecureRandom().nextBytes(big);
            String bigKey = prefix + "six-mib.bin";
            s3.putObject(b -> b.bucket(bucket).key(bigKey), RequestBody.fromBytes(big));
            Map<String, Object> bigSent = wire.summary("x-amz-content-sha256", "content-encoding", "x-amz-trailer",
                    "x-amz-decoded-content-length", "x-amz-sdk-checksum-algorithm", "content-length");
            check(java.util.Arrays.equals(s3.getObjectAsBytes(b -> b.bucket(bucket).key(bigKey)).asByteArray(), big),
                    "6 MiB GetObject returned other bytes");
            byte[] stream = java.util.Arrays.copyOf(big, 3 * 1024 * 1024 + 17);
            String streamKey = prefix + "stream.bin";
            s3.putObject(b -> b.bucket(bucket).key(streamKey),
                    RequestBody.fromContentProvider(() -> new java.io.ByteArrayInputStream(stream), "application/octet-stream"));
            Map<String, Object> streamSent = wire.summary("x-amz-content-sha256", "content-encoding", "x-amz-trailer",
                    "x-amz-decoded-content-length", "x-amz-sdk-checksum-algorithm", "content-length", "transfer-encoding");
            check(java.util.Arrays.equals(s3.getObjectAsBytes(b -> b.bucket(bucket).key(streamKey)).asByteArray(), stream),
                    "streamed GetObject returned other bytes");
            r.put("large", Map.of("bytes", big.length, "sent", bigSent));
            r.put("stream", Map.of("bytes", stream.length, "sent", streamSent));
            s3.deleteObject(b -> b.bucket(bucket).key(bigKey));
            s3.deleteObject(b -> b.bucket(bucket).key(streamKey));

            // A bucket the role may not touch: 403 AccessDenied, on a read and on a write.
            List<Object> deniedCalls = new ArrayList<>();
            deniedCalls.add(expectS3Denied("ListObjectsV2", () -> s3.listObjectsV2(b -> b.bucket(denied))));
            deniedCalls.add(expectS3Denied("PutObject", () -> s3.putObject(b -> b.bucket(denied).key("x"), RequestBody.fromString("x"))));
            r.put("denied", deniedCalls);
        }
        out.put("s3", r);
    }

    static Map<String, Object> expectS3Denied(String op, Runnable call) {
        try {
            call.run();
        } catch (AwsServiceException e) {
            String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
            check(e.statusCode() == 403 && "AccessDenied".equals(code), "%s on the denied bucket: %s", op, describe(e));
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("op", op);
            m.put("status", e.statusCode());
            m.put("code", code);
            m.put("requestId", e.requestId());
            return m;
        }
        throw new ProbeFailure(op + " on the denied bucket succeeded");
    }

    // ---------------------------------------------------------------- DynamoDB

    static AttributeValue s(String v) {
        return AttributeValue.builder().s(v).build();
    }

    static AttributeValue n(String v) {
        return AttributeValue.builder().n(v).build();
    }

    static void dynamodb(Map<String, Object> out) {
        String tableName = env("PROBE_TABLE", "eks-workshop-carts");
        String deniedTable = env("PROBE_DENIED_TABLE", "other-table");
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("table", tableName);
        try (DynamoDbClient ddb = DynamoDbClient.create()) {
            DynamoDbEnhancedClient enhanced = DynamoDbEnhancedClient.builder().dynamoDbClient(ddb).build();
            DynamoDbTable<CartItem> table = enhanced.table(tableName, TableSchema.fromBean(CartItem.class));
            String customer = "java-" + UUID.randomUUID();
            String first = customer + ":item1";

            // PutItem + GetItem through the Enhanced Client, as the carts service does.
            table.putItem(new CartItem(first, customer, "item1", 1, 10));
            CartItem got = table.getItem(Key.builder().partitionValue(first).build());
            check(got != null && customer.equals(got.getCustomerId()) && got.getQuantity() == 1 && got.getUnitPrice() == 10,
                    "GetItem after PutItem: %s", got);
            r.put("putItem", first);
            r.put("getItem", got.toString());

            // UpdateItem, ReturnValues ALL_NEW.
            UpdateItemResponse upd = ddb.updateItem(b -> b.tableName(tableName)
                    .key(Map.of("id", s(first)))
                    .updateExpression("SET quantity = quantity + :q")
                    .expressionAttributeValues(Map.of(":q", n("2")))
                    .returnValues(ReturnValue.ALL_NEW));
            Map<String, AttributeValue> after = upd.attributes();
            check("3".equals(after.get("quantity").n()) && customer.equals(after.get("customerId").s())
                    && "item1".equals(after.get("itemId").s()) && "10".equals(after.get("unitPrice").n()),
                    "UpdateItem ALL_NEW: %s", after);
            r.put("updateItemAllNew", Map.of("quantity", after.get("quantity").n(), "attributes", after.size()));

            // Four more lines, then the index Query two at a time (the SDK follows LastEvaluatedKey).
            for (int i = 2; i <= 5; i++) {
                table.putItem(new CartItem(customer + ":item" + i, customer, "item" + i, i, 10 * i));
            }
            DynamoDbIndex<CartItem> index = table.index(CartItem.CUSTOMER_INDEX);
            SdkIterable<Page<CartItem>> pages = index.query(QueryEnhancedRequest.builder()
                    .queryConditional(QueryConditional.keyEqualTo(k -> k.partitionValue(customer)))
                    .limit(2)
                    .build());
            List<Integer> pageSizes = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (Page<CartItem> page : pages) {
                pageSizes.add(page.items().size());
                check(page.items().size() <= 2, "a page of %d items with Limit 2", page.items().size());
                for (CartItem it : page.items()) {
                    check(customer.equals(it.getCustomerId()), "index Query returned %s", it);
                    ids.add(it.getId());
                }
            }
            ids.sort(null);
            List<String> want = new ArrayList<>();
            for (int i = 1; i <= 5; i++) {
                want.add(customer + ":item" + i);
            }
            check(ids.equals(want), "index Query items %s, expected %s", ids, want);
            check(pageSizes.size() >= 3, "5 items with Limit 2 in %d pages: %s", pageSizes.size(), pageSizes);
            r.put("queryIndexPages", pageSizes);

            // DeleteItem, ReturnValues ALL_OLD (low-level), then the Enhanced Client's delete
            // (which also asks for ALL_OLD) for the other four.
            DeleteItemResponse del = ddb.deleteItem(b -> b.tableName(tableName)
                    .key(Map.of("id", s(first)))
                    .returnValues(ReturnValue.ALL_OLD));
            check("3".equals(del.attributes().get("quantity").n()) && first.equals(del.attributes().get("id").s()),
                    "DeleteItem ALL_OLD: %s", del.attributes());
            r.put("deleteItemAllOld", Map.of("id", del.attributes().get("id").s(), "quantity", del.attributes().get("quantity").n()));
            for (int i = 2; i <= 5; i++) {
                String id = customer + ":item" + i;
                CartItem old = table.deleteItem(Key.builder().partitionValue(id).build());
                check(old != null && old.getQuantity() == i, "enhanced DeleteItem of %s returned %s", id, old);
            }
            check(table.getItem(Key.builder().partitionValue(first).build()) == null, "item still there after DeleteItem");

            // A table the role may not touch.
            List<Object> deniedCalls = new ArrayList<>();
            deniedCalls.add(expectDdbDenied("GetItem", deniedTable,
                    () -> ddb.getItem(b -> b.tableName(deniedTable).key(Map.of("id", s("x"))))));
            deniedCalls.add(expectDdbDenied("PutItem", deniedTable,
                    () -> enhanced.table(deniedTable, TableSchema.fromBean(CartItem.class))
                            .putItem(new CartItem("x", "y", "z", 1, 1))));
            r.put("denied", deniedCalls);
        }
        out.put("dynamodb", r);
    }

    static Map<String, Object> expectDdbDenied(String op, String table, Runnable call) {
        try {
            call.run();
        } catch (AwsServiceException e) {
            String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
            check(e.statusCode() == 400 && "AccessDeniedException".equals(code), "%s on %s: %s", op, table, describe(e));
            String msg = e.awsErrorDetails().errorMessage();
            check(msg != null && msg.contains("is not authorized to perform: dynamodb:" + op), "%s denial message: %s", op, msg);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("op", op);
            m.put("status", e.statusCode());
            m.put("code", code);
            m.put("requestId", e.requestId());
            return m;
        }
        throw new ProbeFailure(op + " on " + table + " succeeded");
    }

    // ---------------------------------------------------------------- JSON

    /** Just enough JSON for the summary line. */
    static final class Json {
        static String write(Object v) {
            StringBuilder sb = new StringBuilder();
            write(sb, v);
            return sb.toString();
        }

        static void write(StringBuilder sb, Object v) {
            if (v == null) {
                sb.append("null");
            } else if (v instanceof Map<?, ?> m) {
                sb.append('{');
                boolean firstEntry = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!firstEntry) {
                        sb.append(',');
                    }
                    firstEntry = false;
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(':');
                    write(sb, e.getValue());
                }
                sb.append('}');
            } else if (v instanceof Iterable<?> it) {
                sb.append('[');
                boolean firstItem = true;
                for (Object o : it) {
                    if (!firstItem) {
                        sb.append(',');
                    }
                    firstItem = false;
                    write(sb, o);
                }
                sb.append(']');
            } else if (v instanceof Number || v instanceof Boolean) {
                sb.append(v);
            } else {
                string(sb, v.toString());
            }
        }

        static void string(StringBuilder sb, String s) {
            sb.append('"');
            for (char c : s.toCharArray()) {
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (c < 0x20) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            sb.append('"');
        }
    }
}
