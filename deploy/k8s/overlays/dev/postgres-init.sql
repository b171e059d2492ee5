-- One database per service (as in docker-compose.yml), owned by the `bodhi` user. Runs once,
-- when the data volume is empty.
CREATE DATABASE bodhi_auth;
CREATE DATABASE bodhi_secret;
CREATE DATABASE bodhi_model;
CREATE DATABASE bodhi_aiproxy;
