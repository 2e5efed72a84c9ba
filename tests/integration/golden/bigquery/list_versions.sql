SELECT table_name FROM `acme-data.gold__shadow.INFORMATION_SCHEMA.TABLES` AS info WHERE table_schema = 'gold__shadow' AND table_type IN ('BASE TABLE', 'CLONE');
