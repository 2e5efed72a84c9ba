"""The source's tables as an Odoo database holds them: names, types and load order.

Amounts are staged as integer cents; ``cents * 0.01`` is exact DECIMAL arithmetic, so the
DECIMAL(18,2) columns carry exactly the cents the generator computed. The SQL is fixed
text: nothing from the caller is ever formatted into it.
"""

from __future__ import annotations

SOURCE_TABLES: tuple[str, ...] = (
    "res_partner",
    "product_product",
    "sale_order",
    "sale_order_line",
    "account_move",
    "account_payment",
)

# Names are padded with printf, which, unlike lpad, never truncates a longer number.
# Each table: its DDL, then the insert from the Arrow table registered as ``staged``.
DDL_AND_LOAD: dict[str, tuple[str, str]] = {
    "res_partner": (
        """
        create table main.res_partner (
            id integer, name varchar, email varchar, phone varchar, is_company boolean,
            country_code varchar, customer_rank integer, create_date timestamp,
            write_date timestamp
        )
        """,
        """
        insert into main.res_partner
        select id, name, email, phone, is_company, country_code, customer_rank,
               create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "product_product": (
        """
        create table main.product_product (
            id integer, default_code varchar, name varchar, categ_name varchar,
            list_price decimal(18, 2), standard_price decimal(18, 2), active boolean,
            create_date timestamp, write_date timestamp
        )
        """,
        """
        insert into main.product_product
        select id, default_code, name, categ_name,
               (list_price_cents * 0.01)::decimal(18, 2),
               (standard_price_cents * 0.01)::decimal(18, 2),
               active, create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "sale_order": (
        """
        create table main.sale_order (
            id integer, name varchar, partner_id integer, date_order timestamp,
            state varchar, amount_untaxed decimal(18, 2), amount_tax decimal(18, 2),
            amount_total decimal(18, 2), currency_code varchar, create_date timestamp,
            write_date timestamp
        )
        """,
        """
        insert into main.sale_order
        select id, printf('S%05d', id), partner_id, date_order, state,
               (amount_untaxed_cents * 0.01)::decimal(18, 2),
               (amount_tax_cents * 0.01)::decimal(18, 2),
               (amount_total_cents * 0.01)::decimal(18, 2),
               'EUR', create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "sale_order_line": (
        """
        create table main.sale_order_line (
            id integer, order_id integer, product_id integer, name varchar,
            product_uom_qty decimal(18, 3), price_unit decimal(18, 2),
            discount decimal(5, 2), price_subtotal decimal(18, 2),
            price_tax decimal(18, 2), price_total decimal(18, 2),
            create_date timestamp, write_date timestamp
        )
        """,
        """
        insert into main.sale_order_line
        select id, order_id, product_id, name, product_uom_qty::decimal(18, 3),
               (price_unit_cents * 0.01)::decimal(18, 2), discount::decimal(5, 2),
               (price_subtotal_cents * 0.01)::decimal(18, 2),
               (price_tax_cents * 0.01)::decimal(18, 2),
               (price_total_cents * 0.01)::decimal(18, 2),
               create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "account_move": (
        """
        create table main.account_move (
            id integer, name varchar, move_type varchar, partner_id integer,
            invoice_origin varchar, invoice_date date, invoice_date_due date,
            state varchar, payment_state varchar, amount_untaxed decimal(18, 2),
            amount_tax decimal(18, 2), amount_total decimal(18, 2),
            amount_residual decimal(18, 2), create_date timestamp, write_date timestamp
        )
        """,
        """
        insert into main.account_move
        select id,
               case when sequence = 0 then '/'
                    else printf(
                        '%s/%d/%05d',
                        case when move_type = 'out_refund' then 'RINV' else 'INV' end,
                        year(coalesce(invoice_date, create_date::date)),
                        sequence
                    )
               end,
               move_type, partner_id, printf('S%05d', order_id),
               invoice_date, invoice_date_due, state, payment_state,
               (amount_untaxed_cents * 0.01)::decimal(18, 2),
               (amount_tax_cents * 0.01)::decimal(18, 2),
               (amount_total_cents * 0.01)::decimal(18, 2),
               (amount_residual_cents * 0.01)::decimal(18, 2),
               create_date, write_date
        from staged order by id, write_date
        """,
    ),
    "account_payment": (
        """
        create table main.account_payment (
            id integer, name varchar, partner_id integer, move_id integer,
            amount decimal(18, 2), date date, payment_type varchar, state varchar,
            create_date timestamp, write_date timestamp
        )
        """,
        """
        insert into main.account_payment
        select id,
               case when sequence = 0 then '/'
                    else printf('PBNK1/%d/%05d', year(date), sequence)
               end,
               partner_id, move_id, (amount_cents * 0.01)::decimal(18, 2), date,
               'inbound', state, create_date, write_date
        from staged order by id, write_date
        """,
    ),
}
