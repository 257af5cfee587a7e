from django.urls import path

from restaurant_review import views

app_name = "restaurant_review"

urlpatterns = [
    path("", views.index, name="index"),
    path("restaurant/new/", views.create_restaurant, name="create_restaurant"),
    path("restaurant/<int:pk>/", views.details, name="details"),
    path("restaurant/<int:pk>/review/", views.add_review, name="add_review"),
]
