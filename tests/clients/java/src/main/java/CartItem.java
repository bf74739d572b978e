import software.amazon.awssdk.enhanced.dynamodb.mapper.annotations.DynamoDbBean;
import software.amazon.awssdk.enhanced.dynamodb.mapper.annotations.DynamoDbPartitionKey;
import software.amazon.awssdk.enhanced.dynamodb.mapper.annotations.DynamoDbSecondaryPartitionKey;

/**
 * One cart line as the retail store's carts service maps it with the DynamoDB
 * Enhanced Client: partition key {@code id}, and {@code customerId} as the
 * partition key of the GSI {@code idx_global_customerId}.
 */
@DynamoDbBean
public class CartItem {
    public static final String CUSTOMER_INDEX = "idx_global_customerId";

    private String id;
    private String customerId;
    private String itemId;
    private Integer quantity;
    private Integer unitPrice;

    public CartItem() {}

    public CartItem(String id, String customerId, String itemId, int quantity, int unitPrice) {
        this.id = id;
        this.customerId = customerId;
        this.itemId = itemId;
        this.quantity = quantity;
        this.unitPrice = unitPrice;
    }

    @DynamoDbPartitionKey
    public String getId() {
        return id;
    }

    public void setId(String id) {
        this.id = id;
    }

    @DynamoDbSecondaryPartitionKey(indexNames = CUSTOMER_INDEX)
    public String getCustomerId() {
        return customerId;
    }

    public void setCustomerId(String customerId) {
        this.customerId = customerId;
    }

    public String getItemId() {
        return itemId;
    }

    public void setItemId(String itemId) {
        this.itemId = itemId;
    }

    public Integer getQuantity() {
        return quantity;
    }

    public void setQuantity(Integer quantity) {
        this.quantity = quantity;
    }

    public Integer getUnitPrice() {
        return unitPrice;
    }

    public void setUnitPrice(Integer unitPrice) {
        this.unitPrice = unitPrice;
    }

    @Override
    public String toString() {
        return "CartItem{id=" + id + ", customerId=" + customerId + ", itemId=" + itemId
                + ", quantity=" + quantity + ", unitPrice=" + unitPrice + "}";
    }
}
