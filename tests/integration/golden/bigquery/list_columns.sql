SELECT column_name, data_type, is_nullable FROM `acme-data.gold__shadow.INFORMATION_SCHEMA.COLUMNS` AS info WHERE table_schema = 'gold__shadow' AND table_name = 'kpis__v3' ORDER BY ordinal_position;
