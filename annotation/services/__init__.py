"""Business logic of the judging app; views and job handlers stay thin and call these modules."""
