-- +goose Up
-- The double-entry ledger and reconciliation against Stripe. Every money
-- event is one journal entry whose lines balance (debits = credits per
-- currency), checked by the database when the transaction commits; entries
-- and lines are append-only (a correction is a reversing entry). Amounts are
-- integer minor units (fen) of the line's currency.

-- The chart of accounts. normal_side is the side that increases the account;
-- balances are reported on that side.
CREATE TABLE ledger_accounts (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)?$'),
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    type        text NOT NULL CHECK (type IN ('asset', 'liability', 'revenue', 'contra_revenue', 'expense')),
    normal_side text NOT NULL CHECK (normal_side IN ('debit', 'credit')),
    fee_kind    text,
    position    integer NOT NULL UNIQUE
);

INSERT INTO ledger_accounts (code, name_zh, name_en, type, normal_side, fee_kind, position) VALUES
    ('resident_receivable',     '应收居民款',       'Resident receivable',        'asset',          'debit',  NULL,           10),
    ('stripe_clearing',         'Stripe 清算账户',  'Stripe clearing',            'asset',          'debit',  NULL,           20),
    ('bank',                    '银行存款',         'Bank',                       'asset',          'debit',  NULL,           30),
    ('vat_payable',             '应交增值税',       'VAT payable',                'liability',      'credit', NULL,           40),
    ('rental_revenue',          '租车收入',         'Rental revenue',             'revenue',        'credit', NULL,           50),
    ('fee_revenue.late',        '超时费收入',       'Fee revenue: late return',   'revenue',        'credit', 'late',         61),
    ('fee_revenue.low_battery', '低电量费收入',     'Fee revenue: low battery',   'revenue',        'credit', 'low_battery',  62),
    ('fee_revenue.out_of_zone', '区域外还车费收入', 'Fee revenue: out of zone',   'revenue',        'credit', 'out_of_zone',  63),
    ('fee_revenue.cleaning',    '清洁费收入',       'Fee revenue: cleaning',      'revenue',        'credit', 'cleaning',     64),
    ('fee_revenue.cancellation','取消费收入',       'Fee revenue: cancellation',  'revenue',        'credit', 'cancellation', 65),
    ('fee_revenue.no_show',     '爽约费收入',       'Fee revenue: no-show',       'revenue',        'credit', 'no_show',      66),
    ('refunds',                 '退款',             'Refunds',                    'contra_revenue', 'debit',  NULL,           70),
    ('disputes',                '争议扣款',         'Disputes',                   'contra_revenue', 'debit',  NULL,           80),
    ('stripe_fees',             'Stripe 手续费',    'Stripe fees',                'expense',        'debit',  NULL,           90);

-- One money event. (source, source_id, source_ref) is its identity: a
-- replayed webhook or a re-run reconciliation finds the entry and posts
-- nothing. A memo entry (an authorisation, a release, a decline) records
-- an event where no money moves and has no lines; every other entry has at
-- least two. posted_xact ties lines to the transaction that posted the entry.
CREATE TABLE journal_entries (
    id             uuid PRIMARY KEY,
    event          text NOT NULL CHECK (event IN ('authorization', 'release', 'payment_failed', 'capture', 'charge',
                       'refund', 'refund_reversed', 'dispute', 'stripe_fee', 'payout')),
    memo           boolean NOT NULL,
    source         text NOT NULL CHECK (source IN ('payment', 'stripe')),
    source_id      text NOT NULL,
    source_ref     text NOT NULL,
    payment_id     uuid REFERENCES payments (id),
    refund_id      uuid REFERENCES refunds (id),
    purpose_kind   text,
    purpose_id     uuid,
    -- the reservation paid for, when the purpose is one (no foreign key:
    -- payments may be for other purposes)
    reservation_id uuid,
    amount         bigint NOT NULL CHECK (amount >= 0),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    description    text NOT NULL DEFAULT '',
    reverses       uuid REFERENCES journal_entries (id),
    occurred_at    timestamptz NOT NULL,
    posted_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    posted_xact    xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT journal_entries_key UNIQUE (source, source_id, source_ref),
    CONSTRAINT journal_entries_memo CHECK (memo = (event IN ('authorization', 'release', 'payment_failed')))
);
CREATE INDEX journal_entries_occurred_idx ON journal_entries (occurred_at, id);
CREATE INDEX journal_entries_payment_idx ON journal_entries (payment_id, event);
CREATE INDEX journal_entries_refund_idx ON journal_entries (refund_id) WHERE refund_id IS NOT NULL;
CREATE INDEX journal_entries_reservation_idx ON journal_entries (reservation_id) WHERE reservation_id IS NOT NULL;

-- The lines of an entry: one side each, never zero.
CREATE TABLE journal_lines (
    entry_id uuid NOT NULL REFERENCES journal_entries (id),
    line_no  smallint NOT NULL CHECK (line_no > 0),
    account  text NOT NULL REFERENCES ledger_accounts (code),
    debit    bigint NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit   bigint NOT NULL DEFAULT 0 CHECK (credit >= 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (entry_id, line_no),
    CONSTRAINT journal_lines_one_side CHECK ((debit = 0) <> (credit = 0))
);
CREATE INDEX journal_lines_account_idx ON journal_lines (account, entry_id);

-- At commit, every entry posted in the transaction must balance per
-- currency, a memo must have no lines and any other entry at least two.
-- +goose StatementBegin
CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lines integer;
    off   text;
BEGIN
    SELECT count(*) INTO lines FROM journal_lines WHERE entry_id = NEW.id;
    IF NEW.memo AND lines > 0 THEN
        RAISE EXCEPTION 'journal entry % is a memo and cannot have lines', NEW.id;
    END IF;
    IF NOT NEW.memo AND lines < 2 THEN
        RAISE EXCEPTION 'journal entry % has % line(s); an entry moving money needs at least two', NEW.id, lines;
    END IF;
    SELECT string_agg(format('%s debits %s, credits %s', currency, d, c), '; ') INTO off
    FROM (SELECT currency, sum(debit) AS d, sum(credit) AS c FROM journal_lines
          WHERE entry_id = NEW.id GROUP BY currency HAVING sum(debit) <> sum(credit)) u;
    IF off IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % is unbalanced: %', NEW.id, off;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER journal_entry_balanced AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();

-- Lines may only be added to an entry posted in the same transaction, so a
-- committed (checked) entry can never gain a line.
-- +goose StatementBegin
CREATE FUNCTION journal_lines_same_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad uuid;
BEGIN
    SELECT n.entry_id INTO bad FROM new_lines n JOIN journal_entries e ON e.id = n.entry_id
    WHERE e.posted_xact <> pg_current_xact_id() LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % is posted already; correct it with a reversing entry', bad;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER journal_lines_same_transaction AFTER INSERT ON journal_lines
    REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION journal_lines_same_transaction();

-- The journal is append-only.
-- +goose StatementBegin
CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a reversing entry instead', TG_TABLE_NAME;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();

-- Reconciliation finds our payments by Stripe's charge id.
CREATE INDEX payments_stripe_charge_idx ON payments (stripe_charge_id) WHERE stripe_charge_id IS NOT NULL;

-- A reconciliation of one period against Stripe's balance transactions,
-- fetched from the API or read from an uploaded balance CSV.
CREATE TABLE reconciliation_runs (
    id           uuid PRIMARY KEY,
    source       text NOT NULL CHECK (source IN ('stripe_api', 'csv')),
    from_date    date NOT NULL,
    to_date      date NOT NULL CHECK (to_date >= from_date),
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    status       text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    file_name    text,
    skipped_rows integer NOT NULL DEFAULT 0,
    error        text,
    created_by   uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX reconciliation_runs_created_idx ON reconciliation_runs (created_at DESC, id DESC);

-- One line of a run: a Stripe balance transaction with what our books say
-- about it, or one of our movements Stripe does not show
-- (missing_in_stripe, with no Stripe columns). Amounts use Stripe's signs.
CREATE TABLE reconciliation_items (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id                 uuid NOT NULL REFERENCES reconciliation_runs (id),
    status                 text NOT NULL CHECK (status IN ('matched', 'missing_in_stripe', 'missing_in_ledger',
                               'amount_mismatch', 'fee_mismatch', 'currency_mismatch')),
    kind                   text NOT NULL CHECK (kind IN ('charge', 'refund', 'refund_failure', 'dispute',
                               'dispute_reversal', 'payout', 'stripe_fee', 'other')),
    balance_transaction_id text,
    stripe_type            text,
    source_id              text,
    charge_id              text,
    payment_intent_id      text,
    refund_stripe_id       text,
    amount                 bigint,
    fee                    bigint,
    net                    bigint,
    currency               text,
    created                timestamptz NOT NULL,
    description            text,
    payment_id             uuid,
    refund_id              uuid,
    ledger_amount          bigint,
    ledger_fee             bigint,
    ledger_currency        text,
    recorded               text[] NOT NULL DEFAULT '{}',
    note                   text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX reconciliation_items_txn_key ON reconciliation_items (run_id, balance_transaction_id)
    WHERE balance_transaction_id IS NOT NULL;
CREATE INDEX reconciliation_items_run_idx ON reconciliation_items (run_id, created, id);
CREATE INDEX reconciliation_items_status_idx ON reconciliation_items (run_id, status, created, id);

-- +goose Down
DROP TABLE reconciliation_items;
DROP TABLE reconciliation_runs;
DROP INDEX payments_stripe_charge_idx;
DROP TRIGGER journal_lines_no_truncate ON journal_lines;
DROP TRIGGER journal_entries_no_truncate ON journal_entries;
DROP TRIGGER journal_lines_append_only ON journal_lines;
DROP TRIGGER journal_entries_append_only ON journal_entries;
DROP TRIGGER journal_lines_same_transaction ON journal_lines;
DROP TRIGGER journal_entry_balanced ON journal_entries;
DROP TABLE journal_lines;
DROP TABLE journal_entries;
DROP FUNCTION journal_append_only();
DROP FUNCTION journal_lines_same_transaction();
DROP FUNCTION journal_entry_balanced();
DROP TABLE ledger_accounts;
