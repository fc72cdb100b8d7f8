"""UI-side support for the Streamlit app: caching (``cache``), per-session state (``state``) and
shared rendering (``components``). The library (``recsys``) never imports this package."""
