"""Operations: backup and restore of the whole store, and the data-retention purge."""
