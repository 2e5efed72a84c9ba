SELECT table_schema, table_name, view_definition FROM `acme-data.gold.INFORMATION_SCHEMA.VIEWS` AS info WHERE table_schema = 'gold' AND table_name = 'kpis' ORDER BY table_schema, table_name;
