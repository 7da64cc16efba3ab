-- Ansible managed
-- The schema roles/postgresql creates (vars/main.yml: __postgresql_columns, __postgresql_index_def),
-- written by playbooks/render_deploy.yml. Index: hnsw, distance cosine.
-- Run as a superuser in database colostack; role colostack_app must exist.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS public.document_embeddings (
    id uuid primary key default gen_random_uuid(),
    content text not null,
    embedding vector(1536),
    source_uri varchar(255),
    metadata jsonb,
    created_at timestamptz default now()
);
ALTER TABLE public.document_embeddings OWNER TO colostack_app;
CREATE INDEX IF NOT EXISTS document_embeddings_embedding_idx ON public.document_embeddings USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64');
ALTER DATABASE colostack SET hnsw.ef_search = 40;
