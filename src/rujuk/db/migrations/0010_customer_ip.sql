-- The sign-up's client IP (RegisterCustomerInput.ipAddress), personal data wiped on erasure,
-- and its key for SHARED_IP: the IPv4 address, or the IPv6 /64 network (contacts.ip_key).
ALTER TABLE customer ADD COLUMN ip_address text, ADD COLUMN ip_key text;
-- SHARED_IP counts a program's sign-ups from one key in the 24 hours before a sign-up.
CREATE INDEX customer_ip_key ON customer (program_id, ip_key, joined_at) WHERE ip_key IS NOT NULL;
