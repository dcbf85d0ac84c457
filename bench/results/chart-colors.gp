contenders = 5
colors = "#1b9e77 #7f7f7f #d95f02 #7570b3 #e7298a"
