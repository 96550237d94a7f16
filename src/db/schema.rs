// The one hand-written schema, portable across SQLite and PostgreSQL: only types that diesel's
// MultiConnection supports (no Timestamptz, Uuid or Jsonb). Times are UTC `TIMESTAMP`s.

diesel::table! {
    policies (version) {
        version -> Integer,
        text -> Text,
        summary -> Text,
        sha256 -> Text,
        published_at -> Timestamp,
        notices_after -> Nullable<Text>,
        notices_done_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    data_keys (subject_id) {
        subject_id -> Text,
        kek_id -> Text,
        wrapped -> Nullable<Binary>,
        created_at -> Timestamp,
        shredded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    system_keys (name) {
        name -> Text,
        kek_id -> Text,
        wrapped -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        role -> Text,
        status -> Text,
        email_bidx -> Nullable<Binary>,
        email_sealed -> Nullable<Binary>,
        name_sealed -> Nullable<Binary>,
        phone_sealed -> Nullable<Binary>,
        password_hash -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        user_id -> Text,
        token_hash -> Binary,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        secret_hash -> Binary,
        created_by -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rate_limits (bucket) {
        bucket -> Text,
        window_start -> Timestamp,
        hits -> Integer,
    }
}

diesel::table! {
    policy_acceptances (id) {
        id -> Text,
        subject_id -> Text,
        policy_version -> Integer,
        accepted_at -> Timestamp,
        source -> Text,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        action -> Text,
        subject_id -> Nullable<Text>,
        fields -> Text,
        purpose -> Text,
        request_id -> Nullable<Text>,
        mac -> Binary,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        mac -> Binary,
    }
}

diesel::table! {
    audit_base (id) {
        id -> Integer,
        seq -> BigInt,
        mac -> Binary,
        at -> Timestamp,
        sig -> Binary,
    }
}

diesel::table! {
    backups (file) {
        file -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    products (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        brand -> Text,
        description -> Text,
        style -> Text,
        material -> Text,
        wheels -> Text,
        features -> Text,
        warranty_years -> Integer,
        images -> Text,
        height_cm -> Integer,
        width_cm -> Integer,
        depth_cm -> Integer,
        dim_max -> Integer,
        dim_mid -> Integer,
        dim_min -> Integer,
        size_class -> Text,
        weight_g -> Integer,
        capacity_l -> Integer,
        base_price -> BigInt,
        min_price -> BigInt,
        popularity -> BigInt,
        status -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    product_terms (term, product_id) {
        term -> Text,
        product_id -> Text,
    }
}

diesel::table! {
    variants (id) {
        id -> Text,
        product_id -> Text,
        sku -> Text,
        color -> Text,
        price_override -> Nullable<BigInt>,
        available -> Integer,
        status -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        images -> Text,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> Text,
        variant_id -> Text,
        delta -> Integer,
        reason -> Text,
        actor_id -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    consultations (id) {
        id -> Text,
        product_id -> Text,
        question_sealed -> Binary,
        contact_email_sealed -> Nullable<Binary>,
        status -> Text,
        answer -> Nullable<Text>,
        public_question -> Nullable<Text>,
        answered_by -> Nullable<Text>,
        answered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    carts (id) {
        id -> Text,
        owner_user_id -> Nullable<Text>,
        token_hash -> Nullable<Binary>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    cart_items (cart_id, variant_id) {
        cart_id -> Text,
        variant_id -> Text,
        quantity -> Integer,
        added_at -> Timestamp,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        number -> Text,
        user_id -> Nullable<Text>,
        guest_token_hash -> Nullable<Binary>,
        status -> Text,
        currency -> Text,
        subtotal -> BigInt,
        shipping -> BigInt,
        total -> BigInt,
        contact_email_sealed -> Nullable<Binary>,
        contact_email_bidx -> Nullable<Binary>,
        shipping_address_sealed -> Nullable<Binary>,
        policy_version -> Integer,
        expires_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        tax_mode -> Text,
        tax_country -> Nullable<Text>,
        tax_total -> BigInt,
    }
}

diesel::table! {
    order_tax_lines (order_id, rate_bp) {
        order_id -> Text,
        rate_bp -> Integer,
        net -> BigInt,
        tax -> BigInt,
        gross -> BigInt,
    }
}

diesel::table! {
    tax_rates (country, effective_from) {
        country -> Text,
        effective_from -> Date,
        rate_bp -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    order_items (order_id, variant_id) {
        order_id -> Text,
        variant_id -> Text,
        product_id -> Text,
        sku -> Text,
        name -> Text,
        color -> Text,
        unit_price -> BigInt,
        quantity -> Integer,
    }
}

diesel::table! {
    order_events (id) {
        id -> Text,
        order_id -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        note -> Nullable<Text>,
        at -> Timestamp,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        order_id -> Text,
        provider -> Text,
        provider_reference -> Text,
        status -> Text,
        amount -> BigInt,
        refunded_amount -> BigInt,
        currency -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_event_at -> Nullable<BigInt>,
        cancel_due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        payment_id -> Text,
        amount -> BigInt,
        status -> Text,
        provider_reference -> Nullable<Text>,
        request_key -> Nullable<Text>,
        request_hash -> Nullable<Binary>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    document_counters (series, year) {
        series -> Text,
        year -> Integer,
        last -> BigInt,
    }
}

diesel::table! {
    documents_due (source_id) {
        source_id -> Text,
        kind -> Text,
        order_id -> Text,
        payment_id -> Text,
        amount -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    documents (id) {
        id -> Text,
        number -> Text,
        kind -> Text,
        series -> Text,
        year -> Integer,
        seq -> BigInt,
        order_id -> Text,
        payment_id -> Text,
        source_id -> Text,
        corrects -> Nullable<Text>,
        issued_at -> Timestamp,
        currency -> Text,
        net_total -> BigInt,
        tax_total -> BigInt,
        gross_total -> BigInt,
        body -> Text,
        buyer_key -> Text,
        buyer_sealed -> Nullable<Binary>,
    }
}

diesel::table! {
    payment_events (provider, event_id) {
        provider -> Text,
        event_id -> Text,
        payment_id -> Text,
        event_type -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    shipments (id) {
        id -> Text,
        order_id -> Text,
        carrier -> Text,
        tracking_number -> Text,
        shipped_at -> Timestamp,
        tracking_url -> Nullable<Text>,
    }
}

diesel::table! {
    shipping_carriers (code) {
        code -> Text,
        name -> Text,
        tracking_url -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    shipping_methods (code) {
        code -> Text,
        name -> Text,
        carrier_code -> Nullable<Text>,
        active -> Bool,
        volumetric_divisor -> Integer,
        free_from -> Nullable<BigInt>,
        zones -> Text,
        configured -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    order_shipping (order_id) {
        order_id -> Text,
        method_code -> Text,
        method_name -> Text,
        carrier_code -> Nullable<Text>,
        carrier_name -> Nullable<Text>,
        price -> BigInt,
        chargeable_grams -> BigInt,
    }
}

diesel::table! {
    disclosures (id) {
        id -> Text,
        subject_id -> Text,
        order_id -> Nullable<Text>,
        recipient -> Text,
        fields -> Text,
        purpose -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    after_sales_cases (id) {
        id -> Text,
        order_id -> Text,
        kind -> Text,
        reason_sealed -> Binary,
        status -> Text,
        resolution -> Nullable<Text>,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        refund_id -> Nullable<Text>,
    }
}

diesel::table! {
    after_sales_answers (id) {
        id -> Text,
        case_id -> Text,
        order_id -> Text,
        body_sealed -> Binary,
        author_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_hash -> Binary,
        subject_id -> Text,
        status_code -> Integer,
        response_sealed -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        recipient_user_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        read_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        last_attempt_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        url -> Text,
        events -> Text,
        secret_sealed -> Nullable<Binary>,
        created_by -> Text,
        created_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        subscription_id -> Text,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_attempt_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    consents (id) {
        id -> Text,
        subject_id -> Text,
        purpose -> Text,
        granted -> Bool,
        policy_version -> Integer,
        source -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    addresses (id) {
        id -> Text,
        user_id -> Text,
        address_sealed -> Binary,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    dsr_requests (id) {
        id -> Text,
        kind -> Text,
        status -> Text,
        user_id -> Nullable<Text>,
        email_bidx -> Nullable<Binary>,
        received_at -> Timestamp,
        due_at -> Timestamp,
        extension_months -> Integer,
        extension_reason -> Nullable<Text>,
        denial_reason -> Nullable<Text>,
        verified_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    dsr_codes (dsr_id) {
        dsr_id -> Text,
        code_hash -> Binary,
        code_sealed -> Nullable<Binary>,
        email_sealed -> Nullable<Binary>,
        attempts -> Integer,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    dsr_corrections (dsr_id) {
        dsr_id -> Text,
        fields -> Text,
        corrections_sealed -> Nullable<Binary>,
        applied_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    erasure_ledger (subject_id) {
        subject_id -> Text,
        erased_at -> Timestamp,
        reason -> Text,
    }
}

diesel::table! {
    analytics_salts (day) {
        day -> Date,
        kek_id -> Text,
        wrapped -> Binary,
    }
}

diesel::table! {
    analytics_events (day, visitor_hash, seq) {
        day -> Date,
        visitor_hash -> Binary,
        seq -> Integer,
        event_type -> Text,
        path -> Nullable<Text>,
        product_id -> Nullable<Text>,
        dwell_ms -> Nullable<Integer>,
    }
}

diesel::table! {
    analytics_rollups (day) {
        day -> Date,
        pending -> Bool,
        rolled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    analytics_daily_products (day, product_id) {
        day -> Date,
        product_id -> Text,
        views -> Integer,
        visitors -> Integer,
    }
}

diesel::table! {
    analytics_daily_attributes (day, dimension, value) {
        day -> Date,
        dimension -> Text,
        value -> Text,
        views -> Integer,
        visitors -> Integer,
    }
}

diesel::table! {
    analytics_daily_pages (day, path) {
        day -> Date,
        path -> Text,
        views -> Integer,
        visitors -> Integer,
        leaves -> Integer,
        leave_visitors -> Integer,
        dwell_ms_total -> BigInt,
    }
}

diesel::table! {
    analytics_daily_dwell (day, path, bucket_ms) {
        day -> Date,
        path -> Text,
        bucket_ms -> Integer,
        leaves -> Integer,
    }
}

diesel::table! {
    analytics_daily_transitions (day, from_path, to_path) {
        day -> Date,
        from_path -> Text,
        to_path -> Text,
        moves -> Integer,
        visitors -> Integer,
    }
}

diesel::table! {
    discount_codes (id) {
        id -> Text,
        code -> Text,
        kind -> Text,
        value -> BigInt,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        minimum_subtotal -> BigInt,
        usage_limit -> Nullable<Integer>,
        per_customer_limit -> Nullable<Integer>,
        uses -> Integer,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cart_discounts (cart_id) {
        cart_id -> Text,
        code_id -> Text,
        applied_at -> Timestamp,
    }
}

diesel::table! {
    discount_redemptions (order_id) {
        order_id -> Text,
        code_id -> Text,
        customer -> Nullable<Text>,
        slot -> Nullable<Integer>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    order_discounts (order_id, code_id) {
        order_id -> Text,
        code_id -> Text,
        code -> Text,
        goods_amount -> BigInt,
        shipping_amount -> BigInt,
    }
}

diesel::table! {
    account_tokens (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        token_hash -> Binary,
        token_sealed -> Nullable<Binary>,
        email_bidx -> Nullable<Binary>,
        email_sealed -> Nullable<Binary>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    collections (id) {
        id -> Text,
        slug -> Text,
        title -> Text,
        description -> Nullable<Text>,
        active -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    collection_products (collection_id, position) {
        collection_id -> Text,
        position -> Integer,
        product_id -> Text,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(refunds -> payments (payment_id));
diesel::joinable!(variants -> products (product_id));
diesel::joinable!(product_terms -> products (product_id));
diesel::joinable!(consultations -> products (product_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(analytics_daily_products -> products (product_id));
diesel::joinable!(order_tax_lines -> orders (order_id));
diesel::joinable!(cart_discounts -> discount_codes (code_id));
diesel::joinable!(collection_products -> collections (collection_id));
diesel::joinable!(collection_products -> products (product_id));
diesel::allow_tables_to_appear_in_same_query!(
    policies,
    data_keys,
    system_keys,
    users,
    refresh_tokens,
    api_keys,
    rate_limits,
    policy_acceptances,
    audit_log,
    audit_head,
    audit_base,
    backups,
    products,
    product_terms,
    variants,
    stock_movements,
    counters,
    consultations,
    carts,
    cart_items,
    orders,
    order_items,
    order_tax_lines,
    tax_rates,
    order_events,
    payments,
    refunds,
    payment_events,
    document_counters,
    documents_due,
    documents,
    shipments,
    disclosures,
    shipping_carriers,
    shipping_methods,
    order_shipping,
    after_sales_cases,
    after_sales_answers,
    idempotency_keys,
    notifications,
    consents,
    addresses,
    dsr_requests,
    dsr_codes,
    dsr_corrections,
    erasure_ledger,
    webhook_subscriptions,
    webhook_deliveries,
    analytics_salts,
    analytics_events,
    analytics_rollups,
    analytics_daily_products,
    analytics_daily_attributes,
    analytics_daily_pages,
    analytics_daily_dwell,
    analytics_daily_transitions,
    discount_codes,
    cart_discounts,
    discount_redemptions,
    order_discounts,
    account_tokens,
    collections,
    collection_products,
);
