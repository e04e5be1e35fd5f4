"""Public awareness pages: what image-based abuse is, what a survivor can do, how the centre helps,
how hashing keeps pictures private and the law where the centre works.  Built-in text in every UI
language; each centre may rewrite any page in any language (Markdown, sanitised, every revision
kept) and run dated campaign banners.  The pages live under the survivor portal, so they keep its
rules: no cookie, no cache, no referrer, and a quick exit."""
